using System.CommandLine;
using System.Text.Json;
using Relay.Agent.Local;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;
using static Relay.Agent.Tests.Local.Messages;

namespace Relay.Agent.Tests.Local;

public sealed class ServiceTests
{
    [Fact]
    public async Task Hook_CommandHook_IsDelegatedToTheHookProcessor()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();

        var response = await agent.Client.HookAsync(new HookRequest { EventId = "ev-1", RawJson = "{\"hook_event_name\":\"SessionStart\"}", ClaudePid = 77 }, cancellationToken: ct);

        response.OutputJson.Should().Be(agent.HookProcessor.Output);
        agent.HookProcessor.Requests.Should().ContainSingle().Which.EventId.Should().Be("ev-1");
    }

    [Fact]
    public async Task ToolCall_BrokerAway_AnswersUnavailable()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        using var channel = await agent.AttachAsync(Hello(6001, NewClaudeId()), ct);

        await channel.SendAsync(new ChannelMessage { ToolCall = new ChannelToolCall { RequestId = "t1", ListSessions = new ListSessionsToolRequest() } }, ct);

        var result = (await channel.ReadUntilAsync(m => m.ToolResult is not null, ct)).ToolResult;
        result.RequestId.Should().Be("t1");
        result.Error.Code.Should().Be(ErrorCode.Unavailable);
        result.Error.Message.Should().Contain("not connected to the broker");
    }

    [Fact]
    public async Task ToolCall_ListSessions_IsForwardedToTheBrokerWithTheCaller()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        agent.Link.SetConnected(true);
        ToolCall? forwarded = null;
        agent.Link.ToolHandler = call =>
        {
            forwarded = call;
            return Task.FromResult(new ToolResult { ListSessions = new ListSessionsToolResponse { Sessions = { new Session { Name = "reviewer" } } } });
        };
        using var channel = await agent.AttachAsync(Hello(6002, NewClaudeId()), ct);

        await channel.SendAsync(new ChannelMessage { ToolCall = new ChannelToolCall { RequestId = "t2", ListSessions = new ListSessionsToolRequest { NameContains = "rev" } } }, ct);

        var result = (await channel.ReadUntilAsync(m => m.ToolResult is not null, ct)).ToolResult;
        result.ListSessions.Sessions.Should().ContainSingle().Which.Name.Should().Be("reviewer");
        forwarded!.Caller.ClaudePid.Should().Be(6002);
        forwarded.ListSessions.NameContains.Should().Be("rev");
    }

    [Fact]
    public async Task ToolCall_SendMessage_IsSpooledAndAnsweredWithTheBrokersStatus()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        using var channel = await agent.AttachAsync(Hello(6003, NewClaudeId()), ct);

        await channel.SendAsync(new ChannelMessage
        {
            ToolCall = new ChannelToolCall
            {
                RequestId = "t3",
                SendMessage = new SendMessageToolRequest { MessageId = "msg-1", Target = new SessionSelector { Lookup = "reviewer" }, Text = "Can you look at PR 12?" },
            },
        }, ct);
        var spooled = (await agent.Spool.WaitForAsync(m => m.SessionMessage != null, ct)).SessionMessage;
        spooled.MessageId.Should().Be("msg-1");
        spooled.Sender.ClaudePid.Should().Be(6003);
        await agent.InboundAsync(new BrokerMessage
        {
            Seq = 1,
            SessionMessageStatus = new SessionMessageStatus { MessageId = "msg-1", Status = PromptStatus.Sent, TargetSessionName = "reviewer" },
        }, ct);

        var result = (await channel.ReadUntilAsync(m => m.ToolResult is not null, ct)).ToolResult;
        result.SendMessage.MessageId.Should().Be("msg-1");
        result.SendMessage.QueuedLocally.Should().BeFalse();
        result.SendMessage.Status.Status.Should().Be(PromptStatus.Sent);

        // A later outcome nobody waits for goes to the sender's channel.
        await agent.InboundAsync(new BrokerMessage { Seq = 2, SessionMessageStatus = new SessionMessageStatus { MessageId = "msg-1", Status = PromptStatus.Expired } }, ct);
        (await channel.ReadUntilAsync(m => m.SessionMessageStatus is not null, ct)).SessionMessageStatus.Status.Should().Be(PromptStatus.Expired);
    }

    [Fact]
    public async Task Status_RunningAgent_PrintsReadableSummaryAndJson()
    {
        using var timeout = TestTimeout.Start();
        var ct = timeout.Token;
        await using var agent = await LocalAgentHarness.StartAsync();
        var claude = NewClaudeId();
        using var channel = await agent.AttachAsync(Hello(5001, claude), ct);

        var (exitCode, stdout, stderr) = await RunStatusAsync(agent.SocketPath, ct);
        exitCode.Should().Be(0, stderr);
        stdout.Should().Contain("relay-agent 0.1.0").And.Contain("devbox (m-1)").And.Contain("https://broker.test:7443")
            .And.Contain("not connected").And.Contain("Sessions: 1").And.Contain("pid 5001").And.Contain("channel attached")
            .And.Contain("http://127.0.0.1:7471/hooks").And.Contain(agent.SocketPath);

        var (jsonExit, json, _) = await RunStatusAsync(agent.SocketPath, ct, "--json");
        jsonExit.Should().Be(0);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        root.GetProperty("machine_name").GetString().Should().Be("devbox");
        root.GetProperty("socket_path").GetString().Should().Be(agent.SocketPath);
        root.GetProperty("link").GetProperty("connected").GetBoolean().Should().BeFalse();
        var session = root.GetProperty("sessions")[0];
        session.GetProperty("session").GetProperty("claude_pid").GetInt32().Should().Be(5001);
        session.GetProperty("channel_attached").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task Status_NoAgent_SaysSoAndExits5()
    {
        using var timeout = TestTimeout.Start();
        using var directory = new TempDirectory("rla-");

        var (exitCode, stdout, stderr) = await RunStatusAsync(Path.Combine(directory.Path, "agent.sock"), timeout.Token);

        exitCode.Should().Be(5);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("relay-agent is not running").And.Contain("relay-agent run");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunStatusAsync(string socketPath, CancellationToken ct, params string[] args)
    {
        var root = new RootCommand { StatusCommand.Create(() => socketPath) };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await root.Parse(["status", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
        return (exitCode, output.ToString(), error.ToString());
    }
}
