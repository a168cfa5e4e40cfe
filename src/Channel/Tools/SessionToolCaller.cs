using ModelContextProtocol.Protocol;
using Relay.Channel.Agent;
using Relay.Channel.Hosting;
using Relay.Channel.Mcp;
using Relay.Protocol.V1;

namespace Relay.Channel.Tools;

/// <summary>
/// Runs a session tool through the agent: ChannelToolCall out, the ChannelToolResult with the same request id back,
/// each wait bounded. Every failure becomes a tool error whose text says what to do.
/// </summary>
internal sealed class SessionToolCaller(
    AgentAttach link,
    AgentConnection connection,
    IOptions<RelayChannelOptions> options,
    TimeProvider time,
    ILogger<SessionToolCaller> logger)
{
    private readonly RelayChannelOptions _options = options.Value;

    /// <summary>Sends <paramref name="call"/> (its request id is filled in here) and formats the agent's answer.</summary>
    public async Task<CallToolResult> CallAsync(
        string toolName,
        ChannelToolCall call,
        Func<ChannelToolResult, CallToolResult> format,
        CancellationToken cancellationToken)
    {
        if (!await link.WaitAttachedAsync(_options.AgentWaitTimeout, time, cancellationToken))
        {
            return Fail(toolName, AgentAway(toolName));
        }

        call.RequestId = Guid.CreateVersion7().ToString();
        var result = link.ToolCalls.Add(call);
        using var deadline = new CancellationTokenSource(_options.ToolTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await link.EnqueueAsync(new ChannelMessage { ToolCall = call }, linked.Token);
            var answer = await result.WaitAsync(linked.Token);
            if (answer.ResultCase == ChannelToolResult.ResultOneofCase.Error)
            {
                return Fail(toolName, DescribeError(answer.Error));
            }

            var formatted = format(answer);
            if (formatted.IsError == true)
            {
                McpLog.ToolFailed(logger, toolName, formatted.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text ?? "");
            }

            return formatted;
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            if (!link.IsAttached)
            {
                // The agent went away while the call waited.
                return Fail(toolName, AgentAway(toolName));
            }

            return Fail(toolName, $"relay-agent did not answer {toolName} within {_options.ToolTimeout.TotalSeconds:0.#} s. Try again later; check relay-agent status if it keeps happening.");
        }
        finally
        {
            link.ToolCalls.Remove(call.RequestId);
        }
    }

    private string AgentAway(string toolName) =>
        $"relay-agent is not reachable at {connection.SocketPath}, so {toolName} cannot run. Start it (relay-agent run, or check relay-agent status) and try again.";

    private static string DescribeError(ToolError error) => error.Code switch
    {
        ErrorCode.Unavailable => "Relay's broker is not reachable from this machine right now: " + error.Message,
        ErrorCode.NotFound => "Not found: " + error.Message,
        ErrorCode.Ambiguous => "More than one session matches: " + error.Message + " Use the session id instead.",
        ErrorCode.PermissionDenied => "Relay's policy does not allow this: " + error.Message,
        ErrorCode.Timeout => "Relay did not answer in time: " + error.Message,
        _ => $"{error.Code}: {error.Message}",
    };

    private CallToolResult Fail(string toolName, string message)
    {
        McpLog.ToolFailed(logger, toolName, message);
        return RelayTool.Error(message);
    }
}
