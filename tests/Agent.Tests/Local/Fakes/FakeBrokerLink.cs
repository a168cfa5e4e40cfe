using Relay.Agent.Link;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Local.Fakes;

/// <summary>A broker link whose state the test sets and whose tool calls a test handler answers.</summary>
internal sealed class FakeBrokerLink : IBrokerLink
{
    private bool _connected;

    public BrokerLinkState State => new() { Connected = _connected, ConnectionId = _connected ? "conn-1" : string.Empty, LastError = _connected ? string.Empty : "broker away (test)" };

    public bool IsConnected => _connected;

    public event Action<bool>? ConnectionChanged;

    public Func<ToolCall, Task<ToolResult>> ToolHandler { get; set; } =
        _ => Task.FromException<ToolResult>(new RpcException(new Status(StatusCode.Unavailable, "no broker in this test")));

    public void SetConnected(bool connected)
    {
        _connected = connected;
        ConnectionChanged?.Invoke(connected);
    }

    public Task<ToolResult> CallToolAsync(ToolCall call, TimeSpan timeout, CancellationToken cancellationToken) => ToolHandler(call);
}
