using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Agent.Hooks;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks;

public sealed class HookProcessorTests
{
    // Generous against a loaded machine, far below anything that would stall Claude.
    // The responder or spool in these tests never completes, so returning at all proves the answer bound; the slack only
    // rules out waiting for something else. It is wide because the machine is shared and noisy: speed is measured by
    // the Measure tests, not asserted here.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(5);

    private readonly FakeSpool _spool = new();
    private readonly FakeSessionTracker _tracker = new();
    private readonly FakeResponder _responder = new();
    private readonly HookOptions _options = new();

    [Fact]
    public async Task ProcessAsync_PreToolUse_SpoolsOnceWithIndexedFieldsAndAnswer()
    {
        using var timeout = TestTimeout.Start();
        var sessionId = Guid.NewGuid().ToString();
        _responder.Answer(_ => new JsonObject { ["hookSpecificOutput"] = new JsonObject { ["hookEventName"] = "PreToolUse", ["additionalContext"] = "hi" } });

        var result = await Processor().ProcessAsync(Http(HookPayloads.PreToolUse(sessionId, "toolu_42")), timeout.Token);

        JsonNode.Parse(result.OutputJson)!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Be("hi");
        result.Commit.Should().NotBeNull("the processor leaves the commit to whoever writes the answer");
        _responder.Commits.Should().BeEmpty();
        var hookEvent = _spool.HookEvents.Should().ContainSingle().Subject;
        hookEvent.HookEventName.Should().Be("PreToolUse");
        hookEvent.Transport.Should().Be(HookTransport.Http);
        hookEvent.Session.ClaudeSessionId.Should().Be(sessionId);
        hookEvent.Session.SessionId.Should().Be(FakeSessionTracker.RelaySessionId);
        hookEvent.Session.Cwd.Should().Be("/home/dev/project");
        hookEvent.Fields.ToolName.Should().Be("Bash");
        hookEvent.Fields.ToolUseId.Should().Be("toolu_42");
        hookEvent.Fields.ClaudePromptId.Should().Be("c0ffee00-0000-4000-8000-000000000001");
        hookEvent.Fields.PermissionMode.Should().Be("default");
        hookEvent.Fields.TranscriptPath.Should().EndWith("s.jsonl");
        hookEvent.RawJson.Should().Be(HookPayloads.PreToolUse(sessionId, "toolu_42"));
        hookEvent.RawJsonTruncated.Should().BeFalse();
        hookEvent.RawJsonSize.Should().Be((ulong)Encoding.UTF8.GetByteCount(hookEvent.RawJson));
        hookEvent.ResponseJson.Should().Be(result.OutputJson, "the event records what Claude was answered");
        hookEvent.OccurredAt.Should().NotBeNull();
    }

    [Fact]
    public async Task ProcessAsync_EventSpecificFields_AreIndexedOnlyOnTheirEvents()
    {
        using var timeout = TestTimeout.Start();
        var processor = Processor();

        await processor.ProcessAsync(Http(HookPayloads.SessionStart()), timeout.Token);
        await processor.ProcessAsync(Http(HookPayloads.Of("SessionEnd", extra: p => p["reason"] = "clear")), timeout.Token);
        await processor.ProcessAsync(Http(HookPayloads.Of("StopFailure", extra: p => p["error"] = "rate_limit")), timeout.Token);
        await processor.ProcessAsync(Http(HookPayloads.Of("PreCompact", extra: p => p["trigger"] = "auto")), timeout.Token);
        await processor.ProcessAsync(Http(HookPayloads.Of("Notification", extra: p => { p["notification_type"] = "idle_prompt"; p["reason"] = "x"; })), timeout.Token);
        await processor.ProcessAsync(Http(HookPayloads.Of("SubagentStop", extra: p => { p["agent_id"] = "a1"; p["agent_type"] = "Explore"; })), timeout.Token);

        var events = _spool.HookEvents;
        events.Should().HaveCount(6);
        events[0].Fields.StartSource.Should().Be(SessionStartSource.Startup);
        events[0].Fields.Model.Should().Be("claude-sonnet-4-5");
        events[1].Fields.EndReason.Should().Be("clear");
        events[2].Fields.StopError.Should().Be("rate_limit");
        events[3].Fields.CompactTrigger.Should().Be("auto");
        events[4].Fields.NotificationType.Should().Be("idle_prompt");
        events[4].Fields.EndReason.Should().BeEmpty("'reason' is SessionEnd's field only");
        events[5].Fields.SubagentId.Should().Be("a1");
        events[5].Fields.SubagentType.Should().Be("Explore");
    }

    [Fact]
    public async Task ProcessAsync_ResponderNeverAnswers_AnswersNothingWithinTheBoundAndStillSpools()
    {
        using var timeout = TestTimeout.Start();
        _responder.Hang();
        var clock = Stopwatch.StartNew();

        var result = await Processor().ProcessAsync(Http(HookPayloads.PreToolUse()), timeout.Token);

        clock.Elapsed.Should().BeLessThan(_options.AnswerTimeout + Slack);
        result.Should().Be(HookResult.Empty);
        _spool.HookEvents.Should().ContainSingle().Which.ResponseJson.Should().BeEmpty();
    }

    [Fact]
    public async Task ProcessAsync_PermissionRequest_WaitsLongerForAVerdictThanOrdinaryHooks()
    {
        using var timeout = TestTimeout.Start();
        var verdict = new JsonObject
        {
            ["hookSpecificOutput"] = new JsonObject { ["hookEventName"] = "PermissionRequest", ["decision"] = new JsonObject { ["behavior"] = "allow" } },
        };
        _responder.Handler = async (hook, token) =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(400), token); // the remote verdict takes longer than an ordinary bound
            return new HookAnswer(verdict, null);
        };
        var processor = Processor();

        var ordinary = await processor.ProcessAsync(Http(HookPayloads.PreToolUse()), timeout.Token);
        var permission = await processor.ProcessAsync(Http(HookPayloads.Of("PermissionRequest", extra: p => p["tool_name"] = "Bash")), timeout.Token);

        ordinary.OutputJson.Should().BeEmpty();
        JsonNode.Parse(permission.OutputJson)!["hookSpecificOutput"]!["decision"]!["behavior"]!.GetValue<string>().Should().Be("allow");
        _spool.HookEvents.Should().HaveCount(2);
    }

    [Fact]
    public async Task ProcessAsync_SpoolSlowerThanTheBound_AnswersNothingInTimeAndTheEventLandsLater()
    {
        using var timeout = TestTimeout.Start();
        var disk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _spool.BeforeAppend = (_, _) => disk.Task;
        _responder.Answer(_ => FakeResponder.SessionStartContext("briefing"));
        var clock = Stopwatch.StartNew();

        var result = await Processor().ProcessAsync(Http(HookPayloads.PreToolUse()), timeout.Token);

        clock.Elapsed.Should().BeLessThan(_options.AnswerTimeout + Slack);
        result.Should().Be(HookResult.Empty, "an answer is never given before its event is durable");
        _spool.HookEvents.Should().BeEmpty();
        disk.SetResult();
        await _spool.WaitForHookEventsAsync(e => e.Count == 1, timeout.Token);
        _spool.HookEvents.Should().ContainSingle();
    }

    [Fact]
    public async Task ProcessAsync_SpoolFails_FailsOpenWithAnEmptyAnswer()
    {
        using var timeout = TestTimeout.Start();
        _spool.BeforeAppend = (_, _) => throw new IOException("disk full");
        _responder.Answer(_ => FakeResponder.SessionStartContext("briefing"));

        var result = await Processor().ProcessAsync(Http(HookPayloads.PreToolUse()), timeout.Token);

        result.Should().Be(HookResult.Empty);
    }

    [Fact]
    public async Task ProcessAsync_TrackerThrows_EventIsSpooledWithThePayloadsEvidence()
    {
        using var timeout = TestTimeout.Start();
        _tracker.Throw = true;
        var sessionId = Guid.NewGuid().ToString();

        await Processor().ProcessAsync(Http(HookPayloads.PreToolUse(sessionId)), timeout.Token);

        var evidence = _spool.HookEvents.Should().ContainSingle().Subject.Session;
        evidence.ClaudeSessionId.Should().Be(sessionId);
        evidence.Cwd.Should().Be("/home/dev/project");
    }

    [Fact]
    public async Task ProcessAsync_OversizedPayload_StoresAValidStandInThatKeepsTheSmallFields()
    {
        using var timeout = TestTimeout.Start();
        _options.MaxStoredPayloadBytes = 8 * 1024;
        var sessionId = Guid.NewGuid().ToString();
        var raw = HookPayloads.Of("PostToolUse", sessionId, p =>
        {
            p["tool_name"] = "Read";
            p["tool_use_id"] = "toolu_big";
            p["tool_input"] = new JsonObject { ["file_path"] = "/etc/big" };
            p["tool_response"] = new JsonObject { ["content"] = new string('x', 100_000) };
        });

        await Processor().ProcessAsync(Http(raw), timeout.Token);

        var hookEvent = _spool.HookEvents.Should().ContainSingle().Subject;
        hookEvent.RawJsonTruncated.Should().BeTrue();
        hookEvent.RawJsonSize.Should().Be((ulong)Encoding.UTF8.GetByteCount(raw));
        Encoding.UTF8.GetByteCount(hookEvent.RawJson).Should().BeLessThanOrEqualTo(8 * 1024);
        var standIn = JsonNode.Parse(hookEvent.RawJson)!.AsObject();
        standIn["session_id"]!.GetValue<string>().Should().Be(sessionId);
        standIn["tool_name"]!.GetValue<string>().Should().Be("Read");
        standIn["tool_input"]!["file_path"]!.GetValue<string>().Should().Be("/etc/big");
        standIn.ContainsKey("tool_response").Should().BeFalse();
        standIn[HookPayload.StandInMarker]!["original_size"]!.GetValue<long>().Should().Be(Encoding.UTF8.GetByteCount(raw));
        standIn[HookPayload.StandInMarker]!["omitted"]!["tool_response"]!.GetValue<int>().Should().BeGreaterThan(100_000);
        hookEvent.Fields.ToolUseId.Should().Be("toolu_big");
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"PreToolUse\"")]
    [InlineData("{}")]
    [InlineData("{\"session_id\":\"s\"}")]
    [InlineData("{\"hook_event_name\":\"Stop\"}")]
    [InlineData("{\"session_id\":42,\"hook_event_name\":\"Stop\"}")]
    public async Task ProcessAsync_NotAHookInput_ThrowsAClearErrorAndSpoolsNothing(string raw)
    {
        using var timeout = TestTimeout.Start();

        var act = async () => await Processor().ProcessAsync(Http(raw), timeout.Token);

        (await act.Should().ThrowAsync<HookPayloadException>()).Which.Message.Should().MatchRegex("JSON|session_id|hook_event_name");
        _spool.HookEvents.Should().BeEmpty();
    }

    [Fact]
    public async Task ProcessCommandHookAsync_Malformed_ThrowsInvalidArgument()
    {
        using var timeout = TestTimeout.Start();

        var act = async () => await Processor().ProcessCommandHookAsync(Command("[]"), timeout.Token);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task ProcessCommandHookAsync_AnswersAndCommitsAndKeepsTheClientsIdentity()
    {
        using var timeout = TestTimeout.Start();
        _responder.Answer(_ => FakeResponder.SessionStartContext("standing briefing"));
        var request = Command(HookPayloads.SessionStart());

        var response = await Processor().ProcessCommandHookAsync(request, timeout.Token);

        JsonNode.Parse(response.OutputJson)!["hookSpecificOutput"]!["additionalContext"]!.GetValue<string>().Should().Be("standing briefing");
        _responder.Commits.Should().Equal(request.EventId);
        var hookEvent = _spool.HookEvents.Should().ContainSingle().Subject;
        hookEvent.EventId.Should().Be(request.EventId);
        hookEvent.Transport.Should().Be(HookTransport.Command);
        hookEvent.Session.ClaudePid.Should().Be(4242);
        hookEvent.Session.LaunchId.Should().Be("launch-1");
        hookEvent.Session.ProjectDir.Should().Be("/home/dev/project");
        hookEvent.OccurredAt.Should().Be(request.ReceivedAt);
    }

    [Fact]
    public async Task ProcessCommandHookAsync_SameEventTwice_SpooledOnce()
    {
        using var timeout = TestTimeout.Start();
        var processor = Processor();
        var request = Command(HookPayloads.SessionStart());

        await processor.ProcessCommandHookAsync(request, timeout.Token);
        var replay = request.Clone();
        replay.Replayed = true;
        await processor.ProcessCommandHookAsync(replay, timeout.Token);

        _spool.HookEvents.Should().ContainSingle();
    }

    [Fact]
    public async Task ProcessCommandHookAsync_Replayed_SpoolsWithoutAskingTheResponder()
    {
        using var timeout = TestTimeout.Start();
        var request = Command(HookPayloads.SessionStart());
        request.Replayed = true;

        var response = await Processor().ProcessCommandHookAsync(request, timeout.Token);

        response.OutputJson.Should().BeEmpty();
        _responder.Calls.Should().BeEmpty();
        _spool.HookEvents.Should().ContainSingle().Which.Transport.Should().Be(HookTransport.CommandReplayed);
    }

    [Fact]
    public async Task ProcessCommandHookAsync_ReplayedAndTheSpoolFails_Throws()
    {
        using var timeout = TestTimeout.Start();
        _spool.BeforeAppend = (_, _) => throw new IOException("disk full");
        var request = Command(HookPayloads.SessionStart());
        request.Replayed = true;

        var act = async () => await Processor().ProcessCommandHookAsync(request, timeout.Token);

        await act.Should().ThrowAsync<IOException>("the replayer keeps the drop file when the event did not reach the spool");
    }

    [Fact]
    public void Options_SpoolReserveNotShorterThanABound_FailsValidationWithAFix()
    {
        var options = new HookOptions { AnswerTimeout = TimeSpan.FromMilliseconds(40), SpoolReserve = TimeSpan.FromMilliseconds(50) };

        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true).Should().BeFalse();

        results.Should().ContainSingle().Which.ErrorMessage.Should().Contain("SpoolReserve").And.Contain("lower");
    }

    private HookProcessor Processor() =>
        new(_tracker, _responder, _spool, Options.Create(_options), TimeProvider.System, NullLogger<HookProcessor>.Instance);

    private static HookInput Http(string raw) =>
        new(raw, Encoding.UTF8.GetByteCount(raw), Guid.NewGuid().ToString(), HookTransport.Http, 0, null, null, DateTimeOffset.UtcNow);

    private static HookRequest Command(string raw) => new()
    {
        EventId = Guid.NewGuid().ToString(),
        RawJson = raw,
        ClaudePid = 4242,
        LaunchId = "launch-1",
        ProjectDir = "/home/dev/project",
        ReceivedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddSeconds(-1)),
        ClientVersion = "0.1.0",
    };
}
