using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Relay.Channel.Tools;

/// <summary>
/// Base of relay-channel's tools: a hand-written name, description and JSON schema (snake_case argument names that
/// match the channel event attributes Claude passes back), and lenient argument reading. Tools report problems to
/// Claude as <c>isError</c> results with text that says what to do, never as protocol errors.
/// </summary>
internal abstract class RelayTool(string name, string description, string inputSchema) : McpServerTool
{
    private static readonly IReadOnlyList<object> s_noMetadata = [];

    public override Tool ProtocolTool { get; } = new()
    {
        Name = name,
        Description = description,
        InputSchema = JsonDocument.Parse(inputSchema).RootElement.Clone(),
    };

    public override IReadOnlyList<object> Metadata => s_noMetadata;

    public override async ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var arguments = new ToolArguments(request.Params?.Arguments);
        try
        {
            return await InvokeAsync(arguments, cancellationToken);
        }
        catch (ToolArgumentException e)
        {
            return Error(e.Message);
        }
    }

    /// <summary>Runs the tool.</summary>
    protected abstract ValueTask<CallToolResult> InvokeAsync(ToolArguments arguments, CancellationToken cancellationToken);

    /// <summary>A successful result with one text block.</summary>
    public static CallToolResult Text(string text) => new() { Content = [new TextContentBlock { Text = text }] };

    /// <summary>A failed result (<c>isError: true</c>) whose text tells Claude what went wrong.</summary>
    public static CallToolResult Error(string text) => new() { IsError = true, Content = [new TextContentBlock { Text = text }] };
}
