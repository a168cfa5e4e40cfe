using Microsoft.EntityFrameworkCore;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Approvals;

[Collection(PostgresCollection.Name)]
public sealed class ApprovalTests(PostgresFixture postgres)
{
    [Fact]
    public async Task DecideApproval_Allow_RecordsDeciderQueuesVerdictAndAudits()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ApprovalTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, "approver", cancellationToken: timeout.Token);
        var approval = await SteeringSeed.ApprovalAsync(env.Database, session, cancellationToken: timeout.Token);
        var outbound = env.Signals.Version(BrokerSignals.MachineOutbound(machine.Id.ToString()));

        var decided = await env.Operator.DecideApprovalAsync(
            new DecideApprovalRequest { ApprovalId = approval.Id.ToString(), Decision = ApprovalDecision.Allow, Reason = "looks safe" }, SteeringEnv.Call(timeout.Token));

        decided.Status.Should().Be(ApprovalStatus.Allowed);
        decided.Decision.Should().Be(ApprovalDecision.Allow);
        decided.DecidedBy.Id.Should().Be(env.OperatorTokenId.ToString());
        decided.DecidedBy.DisplayName.Should().Be(env.OperatorName);
        decided.ResolvedAt.Should().NotBeNull();
        decided.Reason.Should().Be("looks safe");
        decided.SessionName.Should().Be("approver");
        decided.MachineName.Should().Be(machine.Name);
        decided.Origin.Should().Be(ApprovalOrigin.Channel);
        env.Signals.Version(BrokerSignals.MachineOutbound(machine.Id.ToString())).Should().BeGreaterThan(outbound);
        await using var db = env.Database.CreateContext();
        var row = await db.Approvals.SingleAsync(a => a.Id == approval.Id, timeout.Token);
        row.VerdictSentAt.Should().BeNull("AgentLink routes the verdict");
        (await db.AuditLog.CountAsync(a => a.Action == "approval.decide" && a.Target == "approval:" + approval.Id, timeout.Token)).Should().Be(1);
    }

    [Fact]
    public async Task DecideApproval_Twice_SameDecisionUnchangedOtherDecisionFailsPrecondition()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ApprovalTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var approval = await SteeringSeed.ApprovalAsync(env.Database, session, cancellationToken: timeout.Token);
        var request = new DecideApprovalRequest { ApprovalId = approval.Id.ToString(), Decision = ApprovalDecision.Deny, Reason = "no" };

        var first = await env.Operator.DecideApprovalAsync(request, SteeringEnv.Call(timeout.Token));
        var second = await env.Operator.DecideApprovalAsync(request, SteeringEnv.Call(timeout.Token));
        var status = await RpcAssert.FailsAsync(
            () => env.Operator.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = approval.Id.ToString(), Decision = ApprovalDecision.Allow }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.FailedPrecondition);

        second.Should().BeEquivalentTo(first);
        status.Detail.Should().Contain("already denied");
        (await SteeringSeed.ScalarAsync(env.Database, "SELECT count(*) FROM audit_log WHERE action = 'approval.decide' AND target = $1", "approval:" + approval.Id)).Should().Be(1);
    }

    [Fact]
    public async Task DecideApproval_ViewerExpiredUnknownOrBadDecision_ClearStatuses()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ApprovalTests>(postgres, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);
        var approval = await SteeringSeed.ApprovalAsync(env.Database, session, cancellationToken: timeout.Token);
        var expired = await SteeringSeed.ApprovalAsync(env.Database, session, expiresAt: DateTimeOffset.UtcNow.AddMinutes(-1), cancellationToken: timeout.Token);

        Task<Approval> Decide(Protocol.V1.Admin.AdminClient client, string id, ApprovalDecision decision) =>
            client.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = id, Decision = decision }, SteeringEnv.Call(timeout.Token)).ResponseAsync;

        await RpcAssert.FailsAsync(() => Decide(env.Viewer, approval.Id.ToString(), ApprovalDecision.Allow), StatusCode.PermissionDenied);
        (await RpcAssert.FailsAsync(() => Decide(env.Operator, expired.Id.ToString(), ApprovalDecision.Allow), StatusCode.FailedPrecondition)).Detail.Should().Contain("expired");
        (await RpcAssert.FailsAsync(() => Decide(env.Operator, Guid.NewGuid().ToString(), ApprovalDecision.Allow), StatusCode.NotFound)).Detail.Should().Contain("no approval");
        (await RpcAssert.FailsAsync(() => Decide(env.Operator, approval.Id.ToString(), ApprovalDecision.Unspecified), StatusCode.InvalidArgument)).Detail.Should().StartWith("decision");
        (await RpcAssert.FailsAsync(() => Decide(env.Operator, "nope", ApprovalDecision.Allow), StatusCode.InvalidArgument)).Detail.Should().Contain("approval_id");
    }

    [Fact]
    public async Task ListApprovals_Default_PendingOnlyOldestFirstAndPaged()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<ApprovalTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var a = await SteeringSeed.ApprovalAsync(env.Database, session, "Bash", cancellationToken: timeout.Token);
        var b = await SteeringSeed.ApprovalAsync(env.Database, session, "Write", cancellationToken: timeout.Token);
        var c = await SteeringSeed.ApprovalAsync(env.Database, session, "Edit", cancellationToken: timeout.Token);
        await env.Operator.DecideApprovalAsync(new DecideApprovalRequest { ApprovalId = b.Id.ToString(), Decision = ApprovalDecision.Allow }, SteeringEnv.Call(timeout.Token));

        var first = await env.Viewer.ListApprovalsAsync(new ListApprovalsRequest { Machine = machine.Name, PageSize = 1 }, SteeringEnv.Call(timeout.Token));
        var second = await env.Viewer.ListApprovalsAsync(new ListApprovalsRequest { Machine = machine.Name, PageSize = 1, PageToken = first.NextPageToken }, SteeringEnv.Call(timeout.Token));
        var allowed = await env.Viewer.ListApprovalsAsync(
            new ListApprovalsRequest { Session = new SessionSelector { SessionId = session.Id.ToString() }, Statuses = { ApprovalStatus.Allowed } }, SteeringEnv.Call(timeout.Token));
        var one = await env.Viewer.GetApprovalAsync(new GetApprovalRequest { ApprovalId = c.Id.ToString() }, SteeringEnv.Call(timeout.Token));

        first.Approvals.Select(x => x.ApprovalId).Concat(second.Approvals.Select(x => x.ApprovalId)).Should().Equal(a.Id.ToString(), c.Id.ToString());
        second.NextPageToken.Should().BeEmpty();
        allowed.Approvals.Should().ContainSingle().Which.ApprovalId.Should().Be(b.Id.ToString());
        one.ToolName.Should().Be("Edit");
    }
}
