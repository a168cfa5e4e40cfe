using Google.Protobuf.WellKnownTypes;
using Relay.Channel.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests;

/// <summary>list_sessions, send_message, session_history and launch_session go to the agent as ChannelToolCall.</summary>
public sealed class SessionToolTests : ChannelTestBase
{
    protected override IReadOnlyDictionary<string, string?> ChannelEnvironment => new Dictionary<string, string?>
    {
        // Long enough that a loaded CI machine answers in time (1 s was not), short enough for the never-answers test.
        ["Channel__ToolTimeout"] = "00:00:03",
        ["Channel__AgentWaitTimeout"] = "00:00:00.500",
    };

    [Fact]
    public async Task ListSessions_SendsTheFiltersAndListsTheSessions()
    {
        Agent.ToolHandler = _ => new ChannelToolResult
        {
            ListSessions = new ListSessionsToolResponse
            {
                Sessions =
                {
                    new Session { SessionId = "s-1", Name = "reviewer", MachineName = "build-01", MachineOnline = true, Status = SessionStatus.WaitingForInput, Cwd = "/src/app", ChannelAttached = true },
                    new Session { SessionId = "s-2", Name = "", MachineName = "laptop", MachineOnline = false, Status = SessionStatus.Working },
                },
            },
        };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("list_sessions", new Dictionary<string, object?> { ["machine"] = "build-01", ["include_ended"] = true }, cancellationToken: Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        result.Text().Should().Contain("reviewer [id s-1] on build-01").And.Contain("waits for input").And.Contain("/src/app");
        result.Text().Should().Contain("(unnamed) [id s-2] on laptop (machine offline): working");
        var call = await Agent.Received.WaitForAsync(m => m.ToolCall, Timeout);
        call.RequestId.Should().NotBeEmpty();
        call.ListSessions.Machine.Should().Be("build-01");
        call.ListSessions.IncludeEnded.Should().BeTrue();
    }

    [Fact]
    public async Task SendMessage_SendsTargetTextAndThreadAndReportsAcceptance()
    {
        Agent.ToolHandler = c => new ChannelToolResult
        {
            SendMessage = new SendMessageToolResponse
            {
                MessageId = c.SendMessage.MessageId,
                Status = new SessionMessageStatus { MessageId = c.SendMessage.MessageId, Status = PromptStatus.Queued, TargetSessionName = "reviewer", TargetMachineName = "build-01" },
            },
        };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("send_message", new Dictionary<string, object?> { ["to"] = "reviewer", ["text"] = "Please review PR 12", ["in_reply_to"] = "p-3" }, cancellationToken: Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        var call = (await Agent.Received.WaitForAsync(m => m.ToolCall, Timeout)).SendMessage;
        call.Target.Lookup.Should().Be("reviewer");
        call.Text.Should().Be("Please review PR 12");
        call.InReplyTo.Should().Be("p-3");
        Guid.TryParse(call.MessageId, out _).Should().BeTrue();
        result.Text().Should().Contain(call.MessageId).And.Contain("reviewer on build-01").And.Contain($"in_reply_to=\"{call.MessageId}\"");
    }

    [Fact]
    public async Task SendMessage_RejectedByPolicy_IsAToolErrorWithTheReason()
    {
        Agent.ToolHandler = c => new ChannelToolResult
        {
            SendMessage = new SendMessageToolResponse
            {
                MessageId = c.SendMessage.MessageId,
                Status = new SessionMessageStatus { Status = PromptStatus.Failed, Reason = "sessions of team A may not message team B", ErrorCode = ErrorCode.PermissionDenied },
            },
        };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("send_message", new Dictionary<string, object?> { ["to"] = "other", ["text"] = "hi" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("may not message team B");
    }

    [Fact]
    public async Task SessionHistory_ListsPromptsAndReplies()
    {
        Agent.ToolHandler = _ => new ChannelToolResult
        {
            SessionHistory = new SessionHistoryToolResponse
            {
                Session = new Session { SessionId = "s-1", Name = "reviewer", MachineName = "build-01", Status = SessionStatus.Idle },
                Events =
                {
                    new Event { Kind = EventKind.PromptCreated, OccurredAt = Timestamp.FromDateTimeOffset(Messages.SentAt), Prompt = new Prompt { PromptId = "p-1", Text = "check the build", Sender = new Principal { DisplayName = "alice" }, Status = PromptStatus.Replied } },
                    new Event { Kind = EventKind.Reply, OccurredAt = Timestamp.FromDateTimeOffset(Messages.SentAt.AddMinutes(1)), Reply = new Reply { InReplyTo = "p-1", Text = "build is green" } },
                },
                OlderCursor = "c-42",
            },
        };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("session_history", new Dictionary<string, object?> { ["session"] = "reviewer", ["limit"] = 5 }, cancellationToken: Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        result.Text().Should().Contain("prompt p-1 from alice (replied): check the build")
            .And.Contain("reply to p-1: build is green")
            .And.Contain("before_cursor=\"c-42\"");
        var call = (await Agent.Received.WaitForAsync(m => m.ToolCall, Timeout)).SessionHistory;
        call.Session.Lookup.Should().Be("reviewer");
        call.Limit.Should().Be(5);
    }

    [Fact]
    public async Task SessionHistory_LimitOutOfRange_IsAToolErrorWithoutCallingTheAgent()
    {
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("session_history", new Dictionary<string, object?> { ["limit"] = 5000 }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("from 1 to 200");
        Agent.Received.Snapshot().Should().NotContain(m => m.ToolCall != null);
    }

    [Fact]
    public async Task LaunchSession_SendsMachinePromptAndNameAndReportsTheLaunch()
    {
        Agent.ToolHandler = c => new ChannelToolResult
        {
            LaunchSession = new LaunchSessionToolResponse
            {
                Launch = new Launch { LaunchId = c.LaunchSession.LaunchId, MachineName = "build-01", SessionId = "s-7", Status = LaunchStatus.Sent, Name = c.LaunchSession.Name },
            },
        };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("launch_session", new Dictionary<string, object?> { ["machine"] = "build-01", ["prompt"] = "Fix the flaky test", ["name"] = "fixer" }, cancellationToken: Timeout);

        result.IsError.Should().NotBe(true, result.Text());
        var call = (await Agent.Received.WaitForAsync(m => m.ToolCall, Timeout)).LaunchSession;
        call.Machine.Should().Be("build-01");
        call.Prompt.Should().Be("Fix the flaky test");
        call.Name.Should().Be("fixer");
        result.Text().Should().Contain(call.LaunchId).And.Contain("session id s-7").And.Contain("sent to the machine");
    }

    [Fact]
    public async Task Tool_AgentReportsBrokerUnavailable_IsAToolErrorSayingSo()
    {
        Agent.ToolHandler = _ => new ChannelToolResult { Error = new ToolError { Code = ErrorCode.Unavailable, Message = "no broker link" } };
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("list_sessions", new Dictionary<string, object?>(), cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("broker is not reachable").And.Contain("no broker link");
    }

    [Fact]
    public async Task Tool_AgentNeverAnswers_IsAToolErrorAfterTheTimeout()
    {
        await Agent.WaitForStreamAsync(Timeout);

        var result = await Channel.Client.CallToolAsync("list_sessions", new Dictionary<string, object?>(), cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("did not answer list_sessions within 3 s");
    }

    [Fact]
    public async Task Tool_AgentAway_IsAToolErrorNamingTheSocket()
    {
        await Agent.WaitForStreamAsync(Timeout);
        await Agent.StopAsync();

        var result = await Channel.Client.CallToolAsync("send_message", new Dictionary<string, object?> { ["to"] = "x", ["text"] = "y" }, cancellationToken: Timeout);

        result.IsError.Should().BeTrue();
        result.Text().Should().Contain("relay-agent is not reachable at " + SocketPath);
    }
}
