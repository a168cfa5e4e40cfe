using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Prompts;
using Relay.Broker.Signals;
using Relay.Broker.Tests.Infrastructure;
using Relay.Broker.Tests.Queries;
using Relay.Broker.Watch.Timeline;
using Relay.Protocol.V1;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;

namespace Relay.Broker.Tests.Prompts;

[Collection(PostgresCollection.Name)]
public sealed class PromptExpiryTests(PostgresFixture postgres)
{
    [Fact]
    public async Task RunOnce_ClockPastExpiry_ExpiresUndeliveredOnlyLogsAndSignals()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<PromptExpiryTests>();
        var machine = await SteeringSeed.MachineAsync(database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(database, machine, cancellationToken: timeout.Token);
        var clock = new FixedTimeProvider(Seed.Now);
        var queued = await PromptAsync(database, session, PromptStatus.Queued, Seed.Now.AddMinutes(5), timeout.Token);
        var sent = await PromptAsync(database, session, PromptStatus.Sent, Seed.Now.AddMinutes(5), timeout.Token);
        var delivered = await PromptAsync(database, session, PromptStatus.Delivered, Seed.Now.AddMinutes(5), timeout.Token);
        var later = await PromptAsync(database, session, PromptStatus.Queued, Seed.Now.AddHours(1), timeout.Token);
        var signals = new BrokerSignals();
        var job = new PromptExpiryJob(new Contexts(database), new TimelineWriter(clock), signals, clock, NullLogger<PromptExpiryJob>.Instance);
        var promptTopic = BrokerSignals.Prompt(queued.ToString());
        var promptVersion = signals.Version(promptTopic);
        var eventsVersion = signals.Version(BrokerSignals.Events);

        var before = await job.RunOnceAsync(timeout.Token);
        clock.Now = Seed.Now.AddMinutes(6);
        var after = await job.RunOnceAsync(timeout.Token);
        var again = await job.RunOnceAsync(timeout.Token);

        before.Should().Be(0);
        after.Should().Be(2);
        again.Should().Be(0);
        await using var db = database.CreateContext();
        var statuses = await db.Prompts.Where(p => p.RelaySessionId == session.Id).ToDictionaryAsync(p => p.Id, timeout.Token);
        statuses[queued].Status.Should().Be(PromptStatus.Expired);
        statuses[queued].ExpiredAt.Should().Be(clock.Now);
        statuses[queued].FailureReason.Should().Be(PromptExpiryJob.Reason);
        statuses[sent].Status.Should().Be(PromptStatus.Expired);
        statuses[delivered].Status.Should().Be(PromptStatus.Delivered, "Claude already has it");
        statuses[later].Status.Should().Be(PromptStatus.Queued);
        signals.Version(promptTopic).Should().Be(promptVersion + 1);
        signals.Version(BrokerSignals.Events).Should().Be(eventsVersion + 1);
        var entries = await db.Events.Where(e => e.RelaySessionId == session.Id).Select(e => e.Payload).ToListAsync(timeout.Token);
        entries.Select(ProtoJson.TryParse<Protocol.V1.Prompt>).Should().OnlyContain(p => p!.Status == Protocol.V1.PromptStatus.Expired).And.HaveCount(2);
    }

    [Fact]
    public async Task GetPrompt_WaitingWhenThePromptExpires_EndsWithExpired()
    {
        using var timeout = TestTimeout.Start();
        var settings = new Dictionary<string, string?> { ["Prompts:ExpirySweepInterval"] = "00:00:00.050" };
        await using var env = await SteeringEnv.StartAsync<PromptExpiryTests>(postgres, settings, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token), cancellationToken: timeout.Token);

        var response = await env.Operator.SendPromptAsync(
            new SendPromptRequest
            {
                Session = new SessionSelector { SessionId = session.Id.ToString() },
                Text = "to an offline machine",
                ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(300)),
                WaitUntil = Protocol.V1.PromptStatus.Replied,
            },
            SteeringEnv.Call(timeout.Token));

        response.WaitTimedOut.Should().BeFalse("EXPIRED ends every wait");
        response.Prompt.Status.Should().Be(Protocol.V1.PromptStatus.Expired);
        response.Prompt.FinishedAt.Should().NotBeNull();
        response.Replies.Should().BeEmpty();
    }

    private static async Task<Guid> PromptAsync(TestDatabase database, RelaySession session, PromptStatus status, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var prompt = new Relay.Broker.Persistence.Entities.Prompt
        {
            Id = Guid.NewGuid(),
            IdempotencyKey = Guid.NewGuid().ToString(),
            RelaySessionId = session.Id,
            SenderKind = SenderKind.Person,
            SenderId = Guid.NewGuid().ToString(),
            Text = "hello",
            Status = status,
            CreatedAt = Seed.Now,
            ExpiresAt = expiresAt,
        };
        await using var db = database.CreateContext();
        db.Prompts.Add(prompt);
        await db.SaveChangesAsync(cancellationToken);
        return prompt.Id;
    }

    private sealed class Contexts(TestDatabase database) : IDbContextFactory<RelayDbContext>
    {
        public RelayDbContext CreateDbContext() => database.CreateContext();
    }
}
