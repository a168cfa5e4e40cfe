using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks;

/// <summary>The http hook endpoint of a real agent over loopback HTTP/1.1, with fakes behind the processor.</summary>
public sealed class HookEndpointTests
{
    [Fact]
    public async Task Post_WithoutSecret_Is401WithAClearBodyAndNothingSpooled()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token, secret: null);

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await Body(response, timeout.Token))["error"]!.GetValue<string>().Should().Contain("X-Relay-Hook-Secret").And.Contain("relay-agent install");
        agent.Spool.HookEvents.Should().BeEmpty();
    }

    [Fact]
    public async Task Post_WithWrongSecret_Is401()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token, secret: agent.Secret[..^1] + "x");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        agent.Spool.HookEvents.Should().BeEmpty();
    }

    [Fact]
    public async Task Post_WithSecret_Is200WithEmptyObjectAndSpooledOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token);

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        (await response.Content.ReadAsStringAsync(timeout.Token)).Should().Be("{}");
        agent.Spool.HookEvents.Should().ContainSingle().Which.Transport.Should().Be(HookTransport.Http);
    }

    [Fact]
    public async Task Post_ResponderAnswers_ReturnsItsOutputAndCommitsAfterwards()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        agent.Responder.Answer(_ => new JsonObject { ["decision"] = "block", ["reason"] = "prompt from alice: run the tests" });

        using var response = await agent.PostHookAsync(HookPayloads.Of("Stop"), timeout.Token);

        var body = await Body(response, timeout.Token);
        body["decision"]!.GetValue<string>().Should().Be("block");
        var hookEvent = agent.Spool.HookEvents.Should().ContainSingle().Subject;
        JsonNode.Parse(hookEvent.ResponseJson)!["reason"]!.GetValue<string>().Should().Contain("alice");
        agent.Responder.Commits.Should().Equal(hookEvent.EventId);
    }

    [Fact]
    public async Task Post_ResponderNeverAnswers_AnswersEmptyWithinTheBound()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        agent.Responder.Hang();
        using (await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token))
        {
            // Warm the connection and the JIT: the bound is about the agent, not about the first request of a process.
        }

        var clock = Stopwatch.StartNew();
        using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token);

        // Returning at all (the responder or spool never completes) proves the bound; the limit is wide for a noisy machine.
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromMilliseconds(150) + TimeSpan.FromSeconds(5));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync(timeout.Token)).Should().Be("{}");
        agent.Spool.HookEvents.Should().HaveCount(2);
        agent.Responder.Commits.Should().BeEmpty();
    }

    [Fact]
    public async Task Post_SpoolStuck_AnswersEmptyWithinTheBound()
    {
        using var timeout = TestTimeout.Start();
        var disk = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var spool = new FakeSpool();
        await using var agent = await TestAgent.StartAsync(timeout.Token, spool: spool);
        spool.BeforeAppend = (_, _) => disk.Task;

        var clock = Stopwatch.StartNew();
        using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token);

        // Returning at all (the responder or spool never completes) proves the bound; the limit is wide for a noisy machine.
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromMilliseconds(150) + TimeSpan.FromSeconds(5));
        (await response.Content.ReadAsStringAsync(timeout.Token)).Should().Be("{}");
        disk.SetResult();
        await spool.WaitForHookEventsAsync(e => e.Count == 1, timeout.Token);
    }

    [Theory]
    [InlineData("this is not json")]
    [InlineData("[]")]
    [InlineData("{\"hook_event_name\":\"Stop\"}")]
    public async Task Post_Malformed_Is400WithAJsonErrorAndNothingSpooled(string body)
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        using var response = await agent.PostHookAsync(body, timeout.Token);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await Body(response, timeout.Token))["error"]!.GetValue<string>().Should().NotBeNullOrWhiteSpace();
        agent.Spool.HookEvents.Should().BeEmpty();
    }

    [Fact]
    public async Task Post_EventRoute_NamesTheEventWhenThePayloadDoesNot()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        var payload = JsonNode.Parse(HookPayloads.PreToolUse())!.AsObject();
        payload.Remove("hook_event_name");

        using var response = await agent.PostHookAsync(payload.ToJsonString(), timeout.Token, path: "/hooks/PreToolUse");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        agent.Spool.HookEvents.Should().ContainSingle().Which.HookEventName.Should().Be("PreToolUse");
    }

    [Fact]
    public async Task Post_BodyOverTheLimit_Is413()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token, settings: new Dictionary<string, string?> { ["Agent:Hooks:MaxRequestBytes"] = "65536" });

        using var response = await agent.PostHookAsync(HookPayloads.Of("PostToolUse", extra: p => p["tool_response"] = new string('x', 70_000)), timeout.Token);

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        (await Body(response, timeout.Token))["error"]!.GetValue<string>().Should().Contain("MaxRequestBytes");
    }

    [Fact]
    public async Task Request_OtherPathOrMethod_IsNotAHook()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        using var other = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token, path: "/other");
        using var get = await agent.Http.GetAsync("/hooks", timeout.Token);

        other.StatusCode.Should().Be(HttpStatusCode.NotFound);
        get.StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed);
        agent.Spool.HookEvents.Should().BeEmpty();
    }

    [Fact]
    public async Task Post_ManyConcurrentHooks_EverySpooledExactlyOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        const int count = 200;

        var statuses = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(toolUseId: "toolu_" + i), timeout.Token);
            return response.StatusCode;
        }));

        statuses.Should().AllSatisfy(s => s.Should().Be(HttpStatusCode.OK));
        var events = agent.Spool.HookEvents;
        events.Should().HaveCount(count);
        events.Select(e => e.Fields.ToolUseId).Should().OnlyHaveUniqueItems();
        events.Select(e => e.EventId).Should().OnlyHaveUniqueItems();
    }

    private static async Task<JsonObject> Body(HttpResponseMessage response, CancellationToken cancellationToken) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken))!.AsObject();
}
