using System.Text.Json.Nodes;
using Relay.Tests.Shared.ClaudeCode;
using Xunit.Abstractions;

namespace Relay.EndToEnd.Tests.Hooks;

/// <summary>
/// Which hook events the real Claude Code fires offline in print mode, for command and http hooks, what it sends,
/// and the checked-in payload catalogue (tests/Shared/ClaudeCode/payloads).
/// </summary>
public sealed class HookCatalogueTests(HookCatalogueRuns runs, ITestOutputHelper output) : IClassFixture<HookCatalogueRuns>
{
    [ClaudeCodeFact]
    public void CatalogueRuns_ThreeRuns_SucceedExceptTheOneWithTheApiError()
    {
        output.WriteLine($"3 catalogue runs took {runs.Elapsed.TotalSeconds:F1} s: "
            + string.Join(", ", runs.Runs.Select(r => $"{r.Elapsed.TotalSeconds:F1} s")));

        runs.Runs[0].ExitCode.Should().Be(0, runs.Runs[0].Describe());
        runs.Runs[0].ResultText.Should().BeOneOf("All done.", "Noted.");
        runs.Runs[1].ExitCode.Should().Be(0, runs.Runs[1].Describe());
        runs.Runs[2].ExitCode.Should().NotBe(0, runs.Runs[2].Describe());
    }

    [ClaudeCodeFact]
    public void CommandHooks_CatalogueRuns_FireExactlyTheExpectedEvents()
    {
        var fired = runs.Command.All().Select(h => h.Event).Union(HookEvents.NotAwaitedAtExit).ToList();

        fired.Should().BeEquivalentTo(HookEvents.FiredByCatalogueRuns, "2.1.328 fired {0}", string.Join(", ", fired));
    }

    [ClaudeCodeFact]
    public void HttpHooks_CatalogueRuns_FireEveryEventButSessionStartAndSetup()
    {
        var fired = runs.Http.All().Select(h => h.Event).Union(HookEvents.NotAwaitedAtExit).ToList();

        fired.Should().BeEquivalentTo(HookEvents.FiredByCatalogueRuns.Except(HookEvents.CommandOnly), "2.1.328 fired {0}", string.Join(", ", fired));
    }

    [ClaudeCodeFact]
    public void HttpHooks_EveryCall_InterpolatesOnlyAllowedEnvVarsInHeaders()
    {
        var calls = runs.Http.All();

        calls.Should().NotBeEmpty();
        foreach (var call in calls)
        {
            call.Headers["x-relay-secret"].Should().Be(HookCatalogueRuns.Secret);
            call.Headers["authorization"].Should().Be("Bearer " + HookCatalogueRuns.Secret);
            call.Headers["x-static"].Should().Be("static-value");
            // A variable not listed in allowedEnvVars is replaced by nothing (the header is sent empty).
            call.Headers["x-not-allowed"].Should().BeEmpty();
            call.Headers["content-type"].Should().StartWith("application/json");
        }

        var sample = calls[0].Headers;
        output.WriteLine(string.Join("\n", sample.OrderBy(h => h.Key, StringComparer.Ordinal).Select(h => $"{h.Key}: {h.Value}")));
    }

    [ClaudeCodeFact]
    public void HttpHooks_Body_IsTheSameJsonAsTheCommandHookInput()
    {
        foreach (var hookEvent in new[] { "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd" })
        {
            var command = runs.Command.Of(hookEvent)[0].Payload;
            var http = runs.Http.Of(hookEvent)[0].Payload;

            JsonNode.DeepEquals(command, http).Should().BeTrue($"{hookEvent}: command {command.ToJsonString()} vs http {http.ToJsonString()}");
        }
    }

    [ClaudeCodeFact]
    public void HookPayloads_EveryEvent_CarryTheSessionEventNameTranscriptAndCwd()
    {
        foreach (var hook in runs.Command.All())
        {
            var failing = hook.SessionId == runs.FailingSessionId.ToString();
            hook.SessionId.Should().BeOneOf(runs.SessionId.ToString(), runs.FailingSessionId.ToString());
            ((string?)hook.Payload["hook_event_name"]).Should().Be(hook.Event);
            ((string?)hook.Payload["transcript_path"]).Should().Be(runs.Home.TranscriptPath(failing ? runs.FailingSessionId : runs.SessionId));
            ((string?)hook.Payload["cwd"]).Should().NotBeNullOrEmpty();
        }
    }

    [ClaudeCodeFact]
    public void SessionStart_CatalogueRuns_ReportStartupResumeAndCompactSources()
    {
        var sources = runs.Command.Of("SessionStart").Select(h => (string?)h.Payload["source"]).ToList();

        sources.Should().Equal("startup", "resume", "compact", "startup");
    }

    [ClaudeCodeFact]
    public void PostToolUseFailure_FailingBash_ReportsTheExitCodeInError()
    {
        var failure = runs.Command.Of("PostToolUseFailure").Should().ContainSingle().Subject.Payload;

        ((string?)failure["error"]).Should().StartWith("Exit code 3");
        ((string?)failure["tool_use_id"]).Should().StartWith("toolu_stub_");
    }

    [ClaudeCodeFact]
    public void PermissionRequest_WriteNotAllowed_CarriesToolInputAndSuggestionsButNoToolUseId()
    {
        var request = runs.Command.Of("PermissionRequest").Should().ContainSingle().Subject.Payload;

        request.ToJsonString().Should().Contain("\"tool_name\":\"Write\"").And.Contain("note.txt");
        request["permission_suggestions"].Should().BeOfType<JsonArray>();
        request.ContainsKey("tool_use_id").Should().BeFalse();
    }

    [ClaudeCodeFact]
    public void Catalogue_LivePayloads_MatchTheCheckedInExamples()
    {
        var live = HookPayloadCatalogue.Examples(runs);
        if (HookPayloadCatalogue.Refresh)
        {
            foreach (var (name, example) in live)
            {
                HookPayloadCatalogue.Write(name, example);
            }
        }

        var checkedIn = HookPayloadCatalogue.ReadAll();
        var fix = $"refresh with {HookPayloadCatalogue.RefreshVariable}=1 dotnet test tests/EndToEnd --filter Catalogue_ and review the diff";
        checkedIn.Keys.Except(HookEvents.NotAwaitedAtExit).Should().BeEquivalentTo(live.Keys.Except(HookEvents.NotAwaitedAtExit), fix);
        foreach (var (name, example) in live)
        {
            var liveKeys = example.Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
            checkedIn.Should().ContainKey(name, fix);
            var fileKeys = checkedIn[name].Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
            liveKeys.Should().Equal(fileKeys, $"the fields of {name} changed ({fix})");
        }
    }
}
