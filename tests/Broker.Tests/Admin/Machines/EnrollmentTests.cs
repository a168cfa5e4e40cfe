using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Relay.Broker.Access;
using Relay.Broker.Persistence;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Admin.Machines;

[Collection(PostgresCollection.Name)]
public sealed class EnrollmentTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Enroll_ValidToken_CreatesMachineWithWorkingCredential()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var name = "laptop-" + Suffix();
        var enrollment = await broker.Admin(admin).CreateEnrollmentAsync(
            new CreateEnrollmentRequest { MachineName = name, Note = "alice's laptop" }, deadline: AccessSeed.Deadline);

        var enrolled = await Agent(broker).EnrollAsync(
            new EnrollRequest { EnrollmentToken = enrollment.Token, RequestId = Guid.NewGuid().ToString(), Hostname = "alice-host", Os = "linux-x64", AgentVersion = "0.1.0" },
            deadline: AccessSeed.Deadline);

        enrollment.Token.Should().StartWith("relay_enr_");
        enrollment.MachineName.Should().Be(name);
        enrollment.ExpiresAt.ToDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow.AddHours(24), TimeSpan.FromMinutes(1));
        enrolled.MachineName.Should().Be(name);
        enrolled.Credential.Should().StartWith("relay_mc_");
        enrolled.BrokerVersion.Should().NotBeEmpty();

        var caller = await broker.Services.GetRequiredService<Authenticator>().AuthenticateMachineAsync(enrolled.Credential, null, CancellationToken.None);
        caller.MachineId.Should().Be(Guid.Parse(enrolled.MachineId));

        var machine = await broker.Admin(admin).GetMachineAsync(new GetMachineRequest { Machine = name }, deadline: AccessSeed.Deadline);
        machine.Machine.MachineId.Should().Be(enrolled.MachineId);
        machine.Machine.Hostname.Should().Be("alice-host");
        machine.Machine.Os.Should().Be("linux-x64");
        machine.Machine.Online.Should().BeFalse();
        machine.Sessions.Should().BeEmpty();

        await using var db = broker.Database.CreateContext();
        var credential = await db.MachineCredentials.SingleAsync(c => c.MachineId == Guid.Parse(enrolled.MachineId));
        credential.TokenHash.Should().Equal(TokenHash.Compute(enrolled.Credential));
        (await db.EnrolmentTokens.SingleAsync(t => t.Id == Guid.Parse(enrollment.EnrollmentId))).TokenHash.Should().Equal(TokenHash.Compute(enrollment.Token));
        var actions = await db.AuditLog.Where(a => a.Target == "enrollment:" + enrollment.EnrollmentId || a.Target == "machine:" + enrolled.MachineId)
            .Select(a => a.Action).ToListAsync();
        actions.Should().BeEquivalentTo("enrollment.create", "machine.enroll");
    }

    [Fact]
    public async Task Enroll_SpentToken_UnauthenticatedUnlessSameRequestId()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var enrollment = await broker.Admin(admin).CreateEnrollmentAsync(new CreateEnrollmentRequest { MachineName = "retry-" + Suffix() }, deadline: AccessSeed.Deadline);
        var request = new EnrollRequest { EnrollmentToken = enrollment.Token, RequestId = Guid.NewGuid().ToString() };
        var agent = Agent(broker);
        var first = await agent.EnrollAsync(request, deadline: AccessSeed.Deadline);

        var retried = await agent.EnrollAsync(request, deadline: AccessSeed.Deadline);
        var other = async () => await agent.EnrollAsync(new EnrollRequest { EnrollmentToken = enrollment.Token, RequestId = Guid.NewGuid().ToString() }, deadline: AccessSeed.Deadline);
        var none = async () => await agent.EnrollAsync(new EnrollRequest { EnrollmentToken = enrollment.Token }, deadline: AccessSeed.Deadline);

        retried.MachineId.Should().Be(first.MachineId);
        retried.Credential.Should().NotBe(first.Credential);
        (await other.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains("already used"));
        (await none.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unauthenticated);
        var authenticator = broker.Services.GetRequiredService<Authenticator>();
        var stale = async () => await authenticator.AuthenticateMachineAsync(first.Credential, null, CancellationToken.None);
        (await stale.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Contain("revoked or replaced");
        (await authenticator.AuthenticateMachineAsync(retried.Credential, null, CancellationToken.None)).MachineId.Should().Be(Guid.Parse(first.MachineId));
    }

    [Fact]
    public async Task Enroll_ExpiredToken_Unauthenticated()
    {
        var clock = new FixedTimeProvider(DateTimeOffset.UtcNow);
        await using var broker = await TestBroker.StartAsync(await postgres.DatabaseFor<EnrollmentTests>(), configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var enrollment = await broker.Admin(admin).CreateEnrollmentAsync(
            new CreateEnrollmentRequest { ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromHours(1)) }, deadline: AccessSeed.Deadline);

        clock.Now += TimeSpan.FromHours(2);
        var act = async () => await Agent(broker).EnrollAsync(new EnrollRequest { EnrollmentToken = enrollment.Token, MachineName = "late-" + Suffix() }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.Unauthenticated && e.Status.Detail.Contains("expired"));
    }

    [Fact]
    public async Task CreateEnrollment_LongExpiry_CappedAtMaximum()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var enrollment = await broker.Admin(admin).CreateEnrollmentAsync(
            new CreateEnrollmentRequest { ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromDays(90)) }, deadline: AccessSeed.Deadline);

        enrollment.ExpiresAt.ToDateTimeOffset().Should().BeCloseTo(DateTimeOffset.UtcNow.AddDays(7), TimeSpan.FromMinutes(1));
    }

    [Theory]
    [InlineData("relay_enr_unknown", StatusCode.Unauthenticated, "not valid")]
    [InlineData("", StatusCode.InvalidArgument, "enrollment_token is required")]
    public async Task Enroll_BadToken_ClearStatus(string token, StatusCode expected, string message)
    {
        await using var broker = await StartAsync();

        var act = async () => await Agent(broker).EnrollAsync(new EnrollRequest { EnrollmentToken = token, MachineName = "x" + Suffix() }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e => e.StatusCode == expected && e.Status.Detail.Contains(message));
    }

    [Fact]
    public async Task Enroll_NameTaken_AlreadyExists_TokenStillUsable()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var (existing, _) = await AccessSeed.MachineAsync(broker.Database);
        var enrollment = await broker.Admin(admin).CreateEnrollmentAsync(new CreateEnrollmentRequest(), deadline: AccessSeed.Deadline);
        var agent = Agent(broker);

        var taken = async () => await agent.EnrollAsync(new EnrollRequest { EnrollmentToken = enrollment.Token, MachineName = existing.Name }, deadline: AccessSeed.Deadline);
        (await taken.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.AlreadyExists);

        var enrolled = await agent.EnrollAsync(new EnrollRequest { EnrollmentToken = enrollment.Token, Hostname = "fallback-" + Suffix() }, deadline: AccessSeed.Deadline);
        enrolled.MachineName.Should().StartWith("fallback-");
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("-leading-dash")]
    [InlineData("3f0c1d2e-0000-4000-8000-000000000000")]
    [InlineData("waaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay-too-long")]
    public async Task CreateEnrollment_BadMachineName_InvalidArgument(string name)
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);

        var act = async () => await broker.Admin(admin).CreateEnrollmentAsync(new CreateEnrollmentRequest { MachineName = name }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains("not a valid machine name"));
    }

    [Fact]
    public async Task CreateEnrollment_NameReservedByPendingToken_AlreadyExists()
    {
        await using var broker = await StartAsync();
        var (_, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var request = new CreateEnrollmentRequest { MachineName = "reserved-" + Suffix() };
        await broker.Admin(admin).CreateEnrollmentAsync(request, deadline: AccessSeed.Deadline);

        var act = async () => await broker.Admin(admin).CreateEnrollmentAsync(request, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.Should().Match<RpcException>(e =>
            e.StatusCode == StatusCode.AlreadyExists && e.Status.Detail.Contains("reserved"));
    }

    [Fact]
    public async Task RevokeMachine_EndsSessionsAndRefusesCredential()
    {
        await using var broker = await StartAsync();
        var (adminId, admin) = await AccessSeed.TokenAsync(broker.Database, Role.Admin);
        var (machine, credential) = await AccessSeed.MachineAsync(broker.Database);
        var session = await Seed.SessionAsync(broker.Database, machine, CancellationToken.None);
        var authenticator = broker.Services.GetRequiredService<Authenticator>();
        var before = await authenticator.AuthenticateMachineAsync(credential, null, CancellationToken.None);
        var client = broker.Admin(admin);
        var shown = await client.GetMachineAsync(new GetMachineRequest { Machine = machine.Id.ToString() }, deadline: AccessSeed.Deadline);
        shown.Sessions.Should().ContainSingle(s => s.SessionId == session.Id.ToString());
        shown.Machine.LiveSessions.Should().Be(1);

        var revoked = await client.RevokeMachineAsync(new RevokeMachineRequest { Machine = machine.Name, Reason = "laptop stolen" }, deadline: AccessSeed.Deadline);
        var again = await client.RevokeMachineAsync(new RevokeMachineRequest { Machine = machine.Name }, deadline: AccessSeed.Deadline);

        revoked.RevokedAt.Should().NotBeNull();
        again.RevokedAt.Should().Be(revoked.RevokedAt);
        before.Revoked.IsCancellationRequested.Should().BeTrue();
        var act = async () => await authenticator.AuthenticateMachineAsync(credential, null, CancellationToken.None);
        (await act.Should().ThrowAsync<RpcException>()).Which.Status.Detail.Should().Contain("was revoked");
        await using var db = broker.Database.CreateContext();
        var ended = await db.Sessions.SingleAsync(s => s.Id == session.Id);
        ended.Status.Should().Be(Relay.Broker.Persistence.Entities.SessionStatus.Ended);
        ended.EndReason.Should().Be("machine_revoked");
        var audit = await client.ListAuditEventsAsync(new ListAuditEventsRequest { Machine = machine.Name, ActionPrefix = "machine." }, deadline: AccessSeed.Deadline);
        var entry = audit.Events.Should().ContainSingle().Which;
        entry.Actor.Id.Should().Be(adminId.ToString());
        entry.DetailsJson.Should().Contain("laptop stolen");
        var listed = await client.ListMachinesAsync(new ListMachinesRequest { PageSize = 500 }, deadline: AccessSeed.Deadline);
        listed.Machines.Should().NotContain(m => m.MachineId == machine.Id.ToString());
        var all = await client.ListMachinesAsync(new ListMachinesRequest { PageSize = 500, IncludeRevoked = true }, deadline: AccessSeed.Deadline);
        all.Machines.Should().Contain(m => m.MachineId == machine.Id.ToString());
    }

    [Theory]
    [InlineData("", StatusCode.InvalidArgument)]
    [InlineData("no-such-machine", StatusCode.NotFound)]
    [InlineData("3f0c1d2e-0000-4000-8000-000000000000", StatusCode.NotFound)]
    public async Task GetMachine_BadReference_ClearStatus(string machine, StatusCode expected)
    {
        await using var broker = await StartAsync();
        var (_, viewer) = await AccessSeed.TokenAsync(broker.Database, Role.Viewer);

        var act = async () => await broker.Admin(viewer).GetMachineAsync(new GetMachineRequest { Machine = machine }, deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(expected);
    }

    [Fact]
    public async Task CreateEnrollment_AsOperator_PermissionDenied()
    {
        await using var broker = await StartAsync();
        var (_, op) = await AccessSeed.TokenAsync(broker.Database, Role.Operator);

        var act = async () => await broker.Admin(op).CreateEnrollmentAsync(new CreateEnrollmentRequest(), deadline: AccessSeed.Deadline);

        (await act.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.PermissionDenied);
    }

    private async Task<TestBroker> StartAsync() => await TestBroker.StartAsync(await postgres.DatabaseFor<EnrollmentTests>());

    private static Protocol.V1.AgentLink.AgentLinkClient Agent(TestBroker broker) => new(broker.CreateChannel());

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];
}
