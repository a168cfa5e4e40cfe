using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.AgentLink;
using Relay.Broker.Audit;
using Relay.Broker.Persistence;
using Relay.Broker.Policy;
using Relay.Broker.Prompts;
using Relay.Broker.Queries;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Relay.Broker.Watch.Timeline;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Launches;

/// <summary>
/// LaunchSession: reserves a Relay session (STARTING) with the launch id, stores the launch (REQUESTED) and its initial
/// prompt (QUEUED) in one transaction, and signals the machine; AgentLink sends the LaunchRequest (queued while the
/// machine is offline) and records the agent's result. Optionally waits until the launch started or failed.
/// </summary>
internal sealed class Launcher(
    IDbContextFactory<RelayDbContext> dbFactory,
    MachineResolver machines,
    PolicyEvaluator policy,
    AuditLog audit,
    TimelineWriter timeline,
    LaunchReader reader,
    BrokerSignals signals,
    IOptions<LaunchOptions> options,
    IOptions<PromptOptions> promptOptions,
    TimeProvider timeProvider,
    LiveStreamFill liveStreams)
{
    public async Task<Pb.LaunchSessionResponse> LaunchAsync(Caller caller, Pb.LaunchSessionRequest request, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var key = Require.OptionalClientId(request.LaunchId, "launch_id") ?? Guid.NewGuid().ToString("D");
        LaunchRequestValidation.Machine(request);
        var cwd = LaunchRequestValidation.Cwd(request.Cwd);
        var name = Require.OptionalName(request.Name, "name");
        RequestValidation.Text(request.Prompt, "prompt", promptOptions.Value.MaxPromptChars, required: false);
        var args = LaunchRequestValidation.ClaudeArgs(request.ClaudeArgs);
        var expiry = RequestValidation.Duration(request.ExpiresIn, "expires_in", limits.MaxExpiry) ?? limits.DefaultExpiry;
        var waitTimeout = RequestValidation.Duration(request.WaitTimeout, "wait_timeout", limits.MaxWaitTimeout, allowZero: true) ?? limits.DefaultWaitTimeout;
        var machine = await machines.ResolveAsync(request.Machine, "machine", cancellationToken);
        var launch = new LaunchPlan(ClientIds.ToGuid("launch", key), machine, cwd, name, request.Prompt.Length == 0 ? null : request.Prompt, args, expiry);

        await using (var db = await dbFactory.CreateDbContextAsync(cancellationToken))
        {
            if (await db.Launches.AsNoTracking().FirstOrDefaultAsync(l => l.Id == launch.Id, cancellationToken) is { } existing)
            {
                EnsureSame(existing, launch, key);
            }
            else
            {
                await CreateAsync(caller, launch, key, cancellationToken);
            }
        }

        var topic = BrokerSignals.Launch(launch.Id.ToString("D"));
        var (current, timedOut) = request.WaitForStart
            ? await SignalWait.UntilAsync(signals, topic, ct => GetAsync(launch.Id, ct), IsSettled, waitTimeout, limits.WaitPollInterval, timeProvider, cancellationToken)
            : (await GetAsync(launch.Id, cancellationToken), false);
        return new Pb.LaunchSessionResponse { Launch = current, WaitTimedOut = timedOut };
    }

    private static bool IsSettled(Pb.Launch launch) => launch.Status is Pb.LaunchStatus.Started or Pb.LaunchStatus.Failed;

    private async Task<Pb.Launch> GetAsync(Guid id, CancellationToken cancellationToken) =>
        await reader.GetAsync(id, cancellationToken) ?? throw AdminErrors.NotFound($"no launch has the id {id:D}.");

    private static void EnsureSame(Db.Launch existing, LaunchPlan launch, string key)
    {
        var differences = new List<string>();
        if (existing.MachineId != launch.Machine.Id)
        {
            differences.Add("machine");
        }

        if (existing.Cwd != launch.Cwd)
        {
            differences.Add("cwd");
        }

        if (existing.Name != launch.Name)
        {
            differences.Add("name");
        }

        if (existing.Prompt != launch.Prompt)
        {
            differences.Add("prompt");
        }

        if (!existing.ClaudeArgs.SequenceEqual(launch.ClaudeArgs))
        {
            differences.Add("claude_args");
        }

        if (differences.Count > 0)
        {
            throw AdminErrors.AlreadyExists(
                $"launch_id '{key}' was already used for another launch (different {string.Join(", ", differences)}). Use a new launch_id for a new launch.");
        }
    }

    private async Task CreateAsync(Caller caller, LaunchPlan plan, string key, CancellationToken cancellationToken)
    {
        if (plan.Machine.RevokedAt is not null)
        {
            throw AdminErrors.FailedPrecondition($"machine '{plan.Machine.Name}' was revoked; it cannot launch sessions.");
        }

        var target = new PolicyTargetInfo { MachineId = plan.Machine.Id, MachineName = plan.Machine.Name, SessionName = plan.Name, Directory = plan.Cwd };
        var decision = await policy.MayLaunchAsync(caller, target, cancellationToken);
        if (!decision.Allowed)
        {
            await audit.RecordAsync(new AuditRecord(caller, AuditActions.SessionLaunch, AuditTarget.Launch(plan.Id.ToString("D")))
            {
                Outcome = Pb.AuditOutcome.Denied,
                MachineId = plan.Machine.Id,
                Details = new { decision.Reason },
            }, cancellationToken);
            decision.ThrowIfDenied();
        }

        var now = timeProvider.GetUtcNow();
        var rows = LaunchRows.Create(plan, caller, key, now, promptOptions.Value.DefaultTtl);
        PendingFill? filled;
        try
        {
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            db.Database.AutoSavepointsEnabled = false; // all or nothing: EF's savepoints would be two more round trips per save
            await TimelineWriter.LockAsync(db, cancellationToken);
            db.Sessions.Add(rows.Session);
            db.Launches.Add(rows.Launch);
            if (rows.Prompt is not null)
            {
                db.Prompts.Add(rows.Prompt);
            }

            audit.Add(db, new AuditRecord(caller, AuditActions.SessionLaunch, AuditTarget.Launch(plan.Id.ToString("D")))
            {
                SessionId = rows.Session.Id,
                MachineId = plan.Machine.Id,
                Details = new { LaunchKey = key, plan.Cwd, plan.Name, ClaudeArgs = plan.ClaudeArgs, PromptChars = plan.Prompt?.Length ?? 0, rows.Launch.ExpiresAt },
            });
            await db.SaveChangesAsync(cancellationToken);
            await timeline.AppendAsync(db, Entries(rows, plan, now), cancellationToken);
            // The machine's stream is here: the launch request is numbered for it now and goes out on commit.
            filled = await liveStreams.FillAsync(db, new MachineIdentity(plan.Machine.Id, plan.Machine.Name), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent retry with the same launch id won: it must be the same launch.
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var winner = await db.Launches.AsNoTracking().FirstOrDefaultAsync(l => l.Id == plan.Id, cancellationToken)
                ?? throw AdminErrors.AlreadyExists($"launch_id '{key}' collides with an existing session or prompt; choose a new UUID.");
            EnsureSame(winner, plan, key);
            return;
        }

        signals.Publish(BrokerSignals.Events);
        signals.Publish(BrokerSignals.Launch(plan.Id.ToString("D")));
        liveStreams.AfterCommit(filled, plan.Machine.Id);
        if (rows.Prompt is not null)
        {
            signals.Publish(BrokerSignals.Prompt(rows.Prompt.Id.ToString("D")));
        }
    }

    /// <summary>What watchers see: the reserved session, the requested launch, the initial prompt.</summary>
    private static List<TimelineEntry> Entries(LaunchRows rows, LaunchPlan plan, DateTimeOffset now)
    {
        var sessionRow = new SessionRow(rows.Session.Id, plan.Name, plan.Machine.Id, plan.Machine.Name, Db.SessionStatus.Starting, false, plan.Cwd, null,
            plan.Id, null, now, now, null, null, null, false, rows.Prompt is null ? 0 : 1, 0, null, null, null);
        var launch = LaunchMapper.ToProto(rows.Launch, plan.Machine.Name);
        launch.RequestedBy = rows.RequestedBy;
        var entries = new List<TimelineEntry>
        {
            new(plan.Machine.Id, rows.Session.Id, TimelineKinds.SessionStarted, LaunchIds.SessionStartedEntry(plan.Id), now, ProtoJson.Format(SessionMapper.ToProto(sessionRow))),
            new(plan.Machine.Id, rows.Session.Id, TimelineKinds.LaunchUpdated, LaunchIds.RequestedEntry(plan.Id), now, ProtoJson.Format(launch)),
        };
        if (rows.Prompt is not null)
        {
            entries.Add(PromptEntries.Created(PromptMapper.ToProto(rows.Prompt, plan.Name, plan.Machine.Id), plan.Machine.Id, now));
        }

        return entries;
    }
}
