using Relay.Cli.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Cli.Tests;

/// <summary>approvals list|show|allow|deny: the verdict reaches the simulated agent.</summary>
[Collection(BrokerCollection.Name)]
public sealed class ApprovalsTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task ApprovalsListShowAllow_PendingRequest_VerdictReachesTheAgent()
    {
        var (agent, claudeSessionId, sessionId) = await SessionAsync(Unique("approve"));
        var approvalId = Guid.NewGuid().ToString();
        await agent.RequestPermissionAsync(claudeSessionId, approvalId, "Bash", "npm test", Token);

        var table = await OkAsync("approvals", "list", "--machine", agent.MachineName);
        var json = await OkAsync("approvals", "list", "--session", sessionId, "--json");
        var show = await OkAsync("approvals", "show", approvalId);
        var allowed = await OkAsync("approvals", "allow", approvalId, "--reason", "tests are safe", "--json");
        var verdict = (await agent.NextAsync(m => m.PermissionVerdict is not null, Token)).PermissionVerdict;
        var nowPending = await OkAsync("approvals", "list", "--machine", agent.MachineName, "--json");
        var everything = await OkAsync("approvals", "list", "--machine", agent.MachineName, "--all");

        table.Stdout.Should().MatchRegex(approvalId + @"\s+\S+\s+" + agent.MachineName + @"\s+Bash\s+pending\s+.*npm test");
        Json(json).GetProperty("approvals").EnumerateArray().Should().ContainSingle()
            .Which.GetProperty("status").GetString().Should().Be("APPROVAL_STATUS_PENDING");
        show.Stdout.Should().MatchRegex(@"Tool:\s+Bash").And.MatchRegex(@"Status:\s+pending");
        Json(allowed).GetProperty("status").GetString().Should().Be("APPROVAL_STATUS_ALLOWED");
        verdict.ApprovalId.Should().Be(approvalId);
        verdict.Decision.Should().Be(ApprovalDecision.Allow);
        verdict.Reason.Should().Be("tests are safe");
        Json(nowPending).GetProperty("approvals").GetArrayLength().Should().Be(0);
        everything.Stdout.Should().MatchRegex(approvalId + @".*allowed");
    }

    [Fact]
    public async Task ApprovalsDeny_TableOutputThenAllowAgain_SecondDecisionRefusedWithExit1()
    {
        var (agent, claudeSessionId, _) = await SessionAsync(Unique("deny"));
        var approvalId = Guid.NewGuid().ToString();
        await agent.RequestPermissionAsync(claudeSessionId, approvalId, "Write", "edit main.cs", Token);

        var denied = await OkAsync("approvals", "deny", approvalId, "--reason", "not on main");
        var verdict = (await agent.NextAsync(m => m.PermissionVerdict is not null, Token)).PermissionVerdict;
        var allowAfter = await Cli.RunAsync("approvals", "allow", approvalId);

        denied.Stdout.Should().BeEmpty();
        denied.Stderr.Should().Contain("Denied Write for session");
        verdict.Decision.Should().Be(ApprovalDecision.Deny);
        allowAfter.ExitCode.Should().Be(ExitCodes.Error);
        allowAfter.Stderr.Should().StartWith("relayctl: refused: ");
    }

    [Fact]
    public async Task ApprovalsAllow_UnknownId_Exits3()
    {
        var result = await Cli.RunAsync("approvals", "allow", Guid.NewGuid().ToString());

        result.ExitCode.Should().Be(ExitCodes.NotFound, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: not found: no approval has the id");
    }

    [Fact]
    public async Task ApprovalsAllow_ViewerToken_PermissionDeniedExits4()
    {
        Cli.Environment["RELAY_TOKEN"] = await TokenAsync("viewer");

        var result = await Cli.RunAsync("approvals", "allow", Guid.NewGuid().ToString());

        result.ExitCode.Should().Be(ExitCodes.AccessDenied, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: permission denied").And.Contain("higher role");
    }
}
