using Microsoft.Extensions.DependencyInjection;
using PolicyMessage = Relay.Protocol.V1.Policy;
using Relay.Broker.Access;
using Relay.Broker.Policy;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Admin.Config;

[Collection(PostgresCollection.Name)]
public sealed class PolicyTests(PostgresFixture postgres)
{
    [Fact]
    public async Task GetPolicy_NeverSet_EmptyWithInitialEtag()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        await using var broker = await TestBroker.StartAsync(database);
        var (_, viewer) = await AccessSeed.TokenAsync(database, Role.Viewer);

        var policy = await broker.Admin(viewer).GetPolicyAsync(new GetPolicyRequest(), deadline: AccessSeed.Deadline);

        policy.Rules.Should().BeEmpty();
        policy.Etag.Should().Be("0");
        policy.UpdatedAt.Should().BeNull();
    }

    [Fact]
    public async Task SetPolicy_WithEtag_ReplacesAndEvaluatorFollows_StaleEtagRefused()
    {
        await using var database = await postgres.CreateDatabaseAsync(migrate: true);
        await using var broker = await TestBroker.StartAsync(database);
        var (adminId, admin) = await AccessSeed.TokenAsync(database, Role.Admin, "pat-admin");
        var client = broker.Admin(admin);
        var evaluator = broker.Services.GetRequiredService<PolicyEvaluator>();
        var sender = Caller.ForSession(Guid.NewGuid(), "intern", Guid.NewGuid(), "beta");
        var target = new PolicyTargetInfo { MachineName = "alpha", SessionName = "prod-deployer", Directory = "/srv/prod" };
        (await evaluator.MayMessageAsync(sender, target)).Allowed.Should().BeTrue();
        var read = await client.GetPolicyAsync(new GetPolicyRequest(), deadline: AccessSeed.Deadline);
        var policy = new PolicyMessage
        {
            Rules =
            {
                new PolicyRule
                {
                    Description = "nobody messages prod",
                    Action = PolicyAction.Message,
                    Subject = new PolicySubject { Kind = PrincipalKind.Session },
                    Target = new PolicyTarget { SessionName = "prod-*" },
                    Effect = PolicyEffect.Deny,
                },
            },
        };

        var set = await client.SetPolicyAsync(new SetPolicyRequest { Policy = policy, ExpectedEtag = read.Etag }, deadline: AccessSeed.Deadline);
        var stale = async () => await client.SetPolicyAsync(new SetPolicyRequest { Policy = new PolicyMessage(), ExpectedEtag = read.Etag }, deadline: AccessSeed.Deadline);
        var got = await client.GetPolicyAsync(new GetPolicyRequest(), deadline: AccessSeed.Deadline);

        set.Etag.Should().NotBe(read.Etag);
        set.UpdatedBy.Id.Should().Be(adminId.ToString());
        (await stale.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.FailedPrecondition && e.Status.Detail.Contains(set.Etag));
        got.Rules.Should().Equal(policy.Rules);
        got.Etag.Should().Be(set.Etag);
        got.UpdatedBy.DisplayName.Should().Be("pat-admin");
        got.UpdatedAt.Should().NotBeNull();
        var decision = await evaluator.MayMessageAsync(sender, target);
        decision.Allowed.Should().BeFalse();
        decision.Reason.Should().Contain("nobody messages prod");
        var audit = await client.ListAuditEventsAsync(new ListAuditEventsRequest { ActionPrefix = "policy." }, deadline: AccessSeed.Deadline);
        audit.Events.Should().ContainSingle().Which.TargetKind.Should().Be("policy");
    }

    [Fact]
    public async Task SetPolicy_InvalidRule_InvalidArgument_AsOperator_PermissionDenied()
    {
        await using var broker = await TestBroker.StartAsync(await postgres.DatabaseFor<PolicyTests>());
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);
        var bad = new SetPolicyRequest { Policy = new PolicyMessage { Rules = { new PolicyRule { Action = PolicyAction.Launch } } } };

        var invalid = async () => await broker.Admin(admin).SetPolicyAsync(bad, deadline: AccessSeed.Deadline);
        var denied = async () => await broker.Admin(op).SetPolicyAsync(new SetPolicyRequest { Policy = new PolicyMessage() }, deadline: AccessSeed.Deadline);
        var missing = async () => await broker.Admin(admin).SetPolicyAsync(new SetPolicyRequest(), deadline: AccessSeed.Deadline);

        (await invalid.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains("policy.rules[0].effect"));
        (await denied.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.PermissionDenied);
        (await missing.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }
}
