using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Access;
using Relay.Broker.AgentLink;
using Relay.Broker.Audit;
using Relay.Broker.Delivery;
using Relay.Broker.Persistence;
using Relay.Broker.Policy;
using Relay.Broker.Queries;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Broker.Validation;
using Relay.Broker.Watch.Timeline;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Prompts;

/// <summary>
/// SendPrompt: stores a prompt (QUEUED) for its session, signals the session's machine, and optionally waits for it to
/// be delivered or answered. Delivery itself is AgentLink's: it takes queued prompts to the agent now, or when the
/// machine reconnects, until they expire.
/// </summary>
internal sealed partial class PromptSender(
    SessionSelectorResolver resolver,
    NpgsqlDataSource dataSource,
    IDbContextFactory<RelayDbContext> dbFactory,
    PolicyEvaluator policy,
    AuditLog audit,
    PromptWaiter waiter,
    PromptSendGate gate,
    BrokerSignals signals,
    IOptions<PromptOptions> options,
    TimeProvider timeProvider,
    ILogger<PromptSender> logger,
    LiveStreamFill liveStreams)
{
    public async Task<Pb.SendPromptResponse> SendAsync(Caller caller, Pb.SendPromptRequest request, CancellationToken cancellationToken)
    {
        var limits = options.Value;
        var key = Require.OptionalClientId(request.PromptId, "prompt_id");
        RequestValidation.Text(request.Text, "text", limits.MaxPromptChars, required: true);
        var ttl = RequestValidation.Duration(request.ExpiresIn, "expires_in", limits.MaxTtl) ?? limits.DefaultTtl;
        var wanted = PromptStatuses.ValidateWait(request.WaitUntil, "wait_until");
        var waitTimeout = RequestValidation.Duration(request.WaitTimeout, "wait_timeout", limits.MaxWaitTimeout, allowZero: true) ?? limits.DefaultWaitTimeout;
        var inReplyTo = request.InReplyTo.Length == 0 ? (Guid?)null : Require.Id(request.InReplyTo, "in_reply_to", "the prompt_id of the prompt this one follows up");
        if (request.Session is null)
        {
            throw AdminErrors.InvalidArgument("session", "name the target session (session_id, claude_session_id, launch_id, name or lookup).");
        }

        // Idempotency is per sender: the same key from the same token is the same prompt.
        // Without a key there is nothing to retry: no earlier prompt can have this fresh one.
        var retryable = key is not null;
        key ??= Guid.NewGuid().ToString("D");
        var promptId = ClientIds.ToGuid("prompt/" + caller.AuditActor, key);
        var look = await LookAsync(caller, retryable ? key : null, request.Session, cancellationToken);
        Guid id;
        if (look.Earlier is null)
        {
            var session = await look.SessionAsync(resolver, request.Session, cancellationToken);
            var (stored, created) = await CreateAsync(
                caller, promptId, key, session, look.QueuedFor(session), request.Text, inReplyTo, ttl, request, cancellationToken);
            if (created && wanted == Pb.PromptStatus.Unspecified)
            {
                // Answered as stored, without reading back what this call just wrote (a new prompt has no replies). This
                // is most of what a plain send costs besides the insert, and scripts send prompts in bursts.
                return new Pb.SendPromptResponse { Prompt = PromptMapper.ToProto(stored, session.Name, session.MachineId) };
            }

            id = stored.Id;
        }
        else
        {
            await EnsureSameAsync(look.Earlier, request, inReplyTo, () => look.SessionAsync(resolver, request.Session, cancellationToken));
            id = look.Earlier.Id;
        }

        var state = wanted == Pb.PromptStatus.Unspecified
            ? await waiter.GetStateAsync(id, cancellationToken)
            : await waiter.WaitAsync(id, wanted, waitTimeout, cancellationToken);
        var response = new Pb.SendPromptResponse { Prompt = state.Prompt, WaitTimedOut = state.TimedOut };
        response.Replies.AddRange(state.Replies);
        return response;
    }

    /// <summary>
    /// A retry must name the same prompt: same target session, same text, same thread link. <paramref name="resolve"/>
    /// gives the session the request names.
    /// </summary>
    private static async Task EnsureSameAsync(EarlierPrompt existing, Pb.SendPromptRequest request, Guid? inReplyTo, Func<Task<SessionRow>> resolve)
    {
        var differences = new List<string>();
        if (existing.Text != request.Text)
        {
            differences.Add("text");
        }

        if (existing.InReplyTo != inReplyTo)
        {
            differences.Add("in_reply_to");
        }

        if (differences.Count == 0)
        {
            // Resolve the selector last: the session may have ended since, which must not fail the retry.
            try
            {
                var session = await resolve();
                if (session.Id != existing.RelaySessionId)
                {
                    differences.Add("session");
                }
            }
            catch (Relay.Grpc.RpcException ex) when (ex.StatusCode is Relay.Grpc.StatusCode.NotFound or Relay.Grpc.StatusCode.FailedPrecondition)
            {
                differences.Add("session");
            }
        }

        if (differences.Count > 0)
        {
            throw AdminErrors.AlreadyExists(
                $"prompt_id '{existing.IdempotencyKey}' was already used for another prompt ({existing.Id:D}; different {string.Join(", ", differences)}). " +
                "Use a new prompt_id for a new prompt; reuse one only to retry the same request.");
        }
    }

    /// <summary>
    /// Stores a new prompt; returns it and true, or the prompt a concurrent retry with the same key stored and false.
    /// <paramref name="queued"/>: what is queued for the session's machine, when the first look read it.
    /// </summary>
    private async Task<(Db.Prompt Prompt, bool Created)> CreateAsync(
        Caller caller, Guid promptId, string key, SessionRow session, JustQueuedLook? queued, string text, Guid? inReplyTo, TimeSpan ttl,
        Pb.SendPromptRequest request, CancellationToken cancellationToken)
    {
        if (session.Status == Db.SessionStatus.Ended)
        {
            throw AdminErrors.FailedPrecondition($"session {session.Label} has ended; a prompt to it would never be delivered.");
        }

        var target = new PolicyTargetInfo { MachineId = session.MachineId, MachineName = session.MachineName, SessionName = session.Name, Directory = session.Cwd };
        var decision = await policy.MayMessageAsync(caller, target, cancellationToken);
        if (!decision.Allowed)
        {
            await audit.RecordAsync(new AuditRecord(caller, AuditActions.PromptSend, AuditTarget.Session(session.Id))
            {
                Outcome = Pb.AuditOutcome.Denied,
                MachineId = session.MachineId,
                Details = new { decision.Reason },
            }, cancellationToken);
            decision.ThrowIfDenied();
        }

        // Echoed in the answer as stored: to the microsecond, as PostgreSQL keeps it.
        var now = timeProvider.GetUtcNowForStorage();
        var prompt = new Db.Prompt
        {
            Id = promptId,
            IdempotencyKey = key,
            RelaySessionId = session.Id,
            SenderKind = Db.SenderKind.Person,
            SenderId = caller.Id,
            SenderName = caller.DisplayName,
            Text = text,
            Status = Db.PromptStatus.Queued,
            CreatedAt = now,
            ExpiresAt = StoredTime.ForStorage(now + ttl),
            InReplyTo = inReplyTo,
        };

        PendingFill? filled;
        try
        {
            // A slot before the connection: waiting for the event-order lock is done here, holding nothing.
            using var slot = await gate.EnterAsync(cancellationToken);
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // One transaction, no partial saves to roll back to: EF's savepoint around each SaveChanges is two round trips.
            db.Database.AutoSavepointsEnabled = false;
            if (inReplyTo is { } thread && !await db.Prompts.AnyAsync(p => p.Id == thread, cancellationToken))
            {
                throw AdminErrors.NotFound($"in_reply_to: no prompt has the id {thread:D}.");
            }

            db.Prompts.Add(prompt);
            audit.Add(db, new AuditRecord(caller, AuditActions.PromptSend, AuditTarget.Prompt(promptId.ToString("D")))
            {
                SessionId = session.Id,
                MachineId = session.MachineId,
                Details = new { PromptKey = key, TextChars = text.Length, ExpiresAt = prompt.ExpiresAt, WaitUntil = request.WaitUntil.ToString() },
            });

            // Saved with the fill, which takes the event-order lock only after: so far this transaction writes new rows
            // (and takes key-share locks for their foreign keys), which no holder of the lock can be waiting for (see
            // TimelineWriter). When the machine's stream is here, the prompt is numbered for it now (→ SENT) and goes out
            // once committed; if nothing else is queued for the machine, it is stored SENT and the lock comes only in the
            // last round trip, which also commits. Either way the transaction is committed on return.
            List<TimelineEntry> created = [PromptEntries.Created(PromptMapper.ToProto(prompt, session.Name, session.MachineId), session.MachineId, now)];
            filled = await liveStreams.QueueAndCommitAsync(
                db, new MachineIdentity(session.MachineId, session.MachineName), created, prompt, queued, cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // A concurrent retry with the same key won, or another sender already uses this UUID as a prompt id.
            await using var db = await dbFactory.CreateDbContextAsync(cancellationToken);
            var winner = await db.Prompts.AsNoTracking().FirstOrDefaultAsync(p => p.Id == promptId, cancellationToken);
            if (winner is null || winner.SenderId != caller.Id || winner.IdempotencyKey != key)
            {
                throw AdminErrors.AlreadyExists($"prompt_id '{key}' is already in use by another sender; choose a new UUID.");
            }

            await EnsureSameAsync(EarlierPrompt.Of(winner), request, inReplyTo, () => resolver.ResolveAsync(request.Session, "session", cancellationToken));
            return (winner, false);
        }

        PromptLog.Queued(logger, promptId, session.Id, caller.DisplayName);
        if (!liveStreams.AfterCommit(filled, session.MachineId))
        {
            signals.Publish(BrokerSignals.Events);
        }

        signals.Publish(BrokerSignals.Prompt(promptId.ToString("D")));
        return (prompt, true);
    }
}
