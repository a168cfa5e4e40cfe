using Google.Protobuf.WellKnownTypes;
using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Protocol.V1;
using Approval = Relay.Broker.Persistence.Entities.Approval;
using ApprovalOrigin = Relay.Broker.Persistence.Entities.ApprovalOrigin;
using ApprovalStatus = Relay.Broker.Persistence.Entities.ApprovalStatus;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Launch = Relay.Broker.Persistence.Entities.Launch;
using LaunchStatus = Relay.Broker.Persistence.Entities.LaunchStatus;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;
using StopRequest = Relay.Protocol.V1.StopRequest;

namespace Relay.Broker.Delivery;

internal sealed partial class OutboxFiller
{
    private async Task<int> AddLaunchesAsync(IngestContext context, int budget, CancellationToken cancellationToken)
    {
        var machineId = context.Machine.Id;
        var launches = await context.Db.Launches
            .Where(l => l.MachineId == machineId && l.Status == LaunchStatus.Requested)
            .OrderBy(l => l.CreatedAt)
            .Take(budget)
            .ToListAsync(cancellationToken);
        var added = 0;
        foreach (var launch in launches)
        {
            context.Publish(BrokerSignals.Launch(launch.Id.ToString("D")));
            if (launch.ExpiresAt is { } expires && expires <= context.Now)
            {
                // The machine stayed offline past the launch's limit: starting it now would surprise whoever asked.
                launch.Status = LaunchStatus.Failed;
                launch.FinishedAt = context.Now;
                launch.Result = "The launch expired before the machine's agent could take it.";
                DeliveryLog.LaunchExpired(logger, launch.Id, machineId);
                AddLaunchEvent(context, launch, "expired");
                continue;
            }

            var request = new LaunchRequest
            {
                LaunchId = launch.Id.ToString("D"),
                SessionId = launch.RelaySessionId?.ToString("D") ?? string.Empty,
                Cwd = launch.Cwd,
                Name = launch.Name ?? string.Empty,
                ClaudeArgs = { launch.ClaudeArgs },
                RequestedBy = DeliveryProtos.ActorToPrincipal(launch.RequestedBy, await ActorNameAsync(context, launch.RequestedBy, cancellationToken)),
                ExpiresAt = launch.ExpiresAt is { } e ? Timestamp.FromDateTimeOffset(e) : null,
            };

            // The first prompt travels inside the request; the agent delivers it once the channel attaches.
            if (launch.InitialPromptId is { } promptId && await context.Db.Prompts.FindAsync([promptId], cancellationToken) is { } prompt
                && prompt.Status == PromptStatus.Queued)
            {
                request.InitialPrompt = DeliveryProtos.ToDelivery(prompt, claudeSessionId: null, await SenderAsync(context, prompt, cancellationToken));
                PromptSent(context, prompt);
            }

            context.Db.Outbox.Add(Row(context, OutboxKind.Launch, launch.Id, new BrokerMessage { LaunchRequest = request }));
            launch.Status = LaunchStatus.Sent;
            launch.SentAt = context.Now;
            AddLaunchEvent(context, launch, "sent");
            added++;
        }

        return added;
    }

    private static async Task<int> AddPromptsAsync(IngestContext context, int budget, CancellationToken cancellationToken)
    {
        if (budget <= 0)
        {
            return 0;
        }

        var machineId = context.Machine.Id;
        var now = context.Now;
        // With each prompt, its session's current Claude session id (the latest segment's), in the same round trip: a
        // fill inside SendPrompt runs while holding the event-order lock.
        var prompts = await context.Db.Prompts
            .Where(p => p.Status == PromptStatus.Queued && p.ExpiresAt > now
                && context.Db.Sessions.Any(s => s.Id == p.RelaySessionId && s.MachineId == machineId && s.Status != SessionStatus.Ended))
            .OrderBy(p => p.CreatedAt)
            .Take(budget)
            .Select(p => new
            {
                Prompt = p,
                Claude = context.Db.SessionSegments
                    .Where(g => g.RelaySessionId == p.RelaySessionId)
                    .OrderByDescending(g => g.Ordinal)
                    .Select(g => (Guid?)g.ClaudeSessionId)
                    .FirstOrDefault(),
            })
            .ToListAsync(cancellationToken);
        foreach (var (prompt, claude) in prompts.Select(p => (p.Prompt, p.Claude)))
        {
            await AddPromptAsync(context, prompt, claude, cancellationToken);
        }

        return prompts.Count;
    }

    private static async Task AddPromptAsync(IngestContext context, Prompt prompt, Guid? claudeSessionId, CancellationToken cancellationToken)
    {
        var delivery = DeliveryProtos.ToDelivery(prompt, claudeSessionId, await SenderAsync(context, prompt, cancellationToken));
        context.Db.Outbox.Add(Row(context, OutboxKind.Prompt, prompt.Id, new BrokerMessage { PromptDelivery = delivery }));
        PromptSent(context, prompt);
    }

    private static async Task<int> AddVerdictsAsync(IngestContext context, int budget, CancellationToken cancellationToken)
    {
        if (budget <= 0)
        {
            return 0;
        }

        var machineId = context.Machine.Id;
        var approvals = await context.Db.Approvals
            .Where(a => (a.Status == ApprovalStatus.Allowed || a.Status == ApprovalStatus.Denied) && a.VerdictSentAt == null
                && context.Db.Sessions.Any(s => s.Id == a.RelaySessionId && s.MachineId == machineId))
            .OrderBy(a => a.DecidedAt)
            .Take(budget)
            .ToListAsync(cancellationToken);
        foreach (var approval in approvals)
        {
            var verdict = new PermissionVerdict
            {
                ApprovalId = approval.Id.ToString("D"),
                ClaudeRequestId = IsChannelRequest(approval) ? approval.RequestId.ToLowerInvariant() : string.Empty,
                Decision = approval.Status == ApprovalStatus.Allowed ? ApprovalDecision.Allow : ApprovalDecision.Deny,
                DecidedBy = DeliveryProtos.ActorToPrincipal(approval.DecidedBy, await ActorNameAsync(context, approval.DecidedBy, cancellationToken)),
                Reason = approval.Reason ?? string.Empty,
                DecidedAt = approval.DecidedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
            };
            context.Db.Outbox.Add(Row(context, OutboxKind.Verdict, approval.Id, new BrokerMessage { PermissionVerdict = verdict }));
            approval.VerdictSentAt = context.Now;
            context.Publish(BrokerSignals.Approval(approval.Id.ToString("D")));
        }

        return approvals.Count;
    }

    private static async Task AddStopsAsync(IngestContext context, int budget, CancellationToken cancellationToken)
    {
        if (budget <= 0)
        {
            return;
        }

        var machineId = context.Machine.Id;
        var stops = await context.Db.StopRequests
            .Where(s => s.MachineId == machineId && s.SentAt == null)
            .OrderBy(s => s.CreatedAt)
            .Take(budget)
            .ToListAsync(cancellationToken);
        if (stops.Count == 0)
        {
            return;
        }

        var sessionIds = stops.Select(s => s.RelaySessionId).Distinct().ToList();
        var sessions = await context.Db.Sessions.Where(s => sessionIds.Contains(s.Id)).ToDictionaryAsync(s => s.Id, cancellationToken);
        var current = await CurrentClaudeIdsAsync(context, sessionIds, cancellationToken);
        foreach (var stop in stops)
        {
            var session = sessions[stop.RelaySessionId];
            var request = new StopRequest
            {
                StopId = stop.Id.ToString("D"),
                Session = new SessionEvidence
                {
                    SessionId = session.Id.ToString("D"),
                    ClaudeSessionId = current.GetValueOrDefault(session.Id)?.ToString("D") ?? string.Empty,
                    LaunchId = session.LaunchId?.ToString("D") ?? string.Empty,
                    ClaudePid = session.ClaudePid ?? 0,
                    ClaudeStartedAt = session.ClaudeStartedAt is { } started ? Timestamp.FromDateTimeOffset(started) : null,
                    Cwd = session.Cwd,
                    ProjectDir = session.ProjectDir ?? string.Empty,
                },
                Force = stop.Force,
                GracePeriod = DeliveryProtos.ToDuration(stop.GracePeriod),
                Reason = stop.Reason ?? string.Empty,
                RequestedBy = DeliveryProtos.ActorToPrincipal(stop.RequestedBy, await ActorNameAsync(context, stop.RequestedBy, cancellationToken)),
            };
            context.Db.Outbox.Add(Row(context, OutboxKind.Stop, stop.Id, new BrokerMessage { StopRequest = request }));
            stop.SentAt = context.Now;
            context.Publish(BrokerSignals.Launch(stop.Id.ToString("D")));
        }
    }

    /// <summary>Claude Code's channel request ids are five letters a-z without l; hook requests carry the approval id instead.</summary>
    private static bool IsChannelRequest(Approval approval) =>
        approval.Origin == ApprovalOrigin.Channel
        || (approval.Origin is null && approval.RequestId.Length == 5 && approval.RequestId.All(c => c is >= 'a' and <= 'z' && c != 'l'));

    private static void AddLaunchEvent(IngestContext context, Launch launch, string what) =>
        context.AddEvent(EventKind.LaunchUpdated, context.DerivedEventId($"launch_{what}/{launch.Id:N}"), launch.RelaySessionId, context.Now,
            DeliveryProtos.ToLaunch(launch, context.Machine.Name));

    internal static async Task<Dictionary<Guid, Guid?>> CurrentClaudeIdsAsync(IngestContext context, List<Guid> sessionIds, CancellationToken cancellationToken) =>
        (await context.Db.SessionSegments
            .Where(s => sessionIds.Contains(s.RelaySessionId))
            .Select(s => new { s.RelaySessionId, s.ClaudeSessionId, s.Ordinal })
            .ToListAsync(cancellationToken))
        .GroupBy(s => s.RelaySessionId)
        .ToDictionary(g => g.Key, g => (Guid?)g.MaxBy(s => s.Ordinal)!.ClaudeSessionId);

    /// <summary>Who sent a prompt, as the channel shows it: a person by token name, a session with its machine.</summary>
    private static async Task<Principal> SenderAsync(IngestContext context, Prompt prompt, CancellationToken cancellationToken)
    {
        if (prompt.SenderKind != SenderKind.Session)
        {
            return new Principal { Kind = PrincipalKind.User, Id = prompt.SenderId, DisplayName = prompt.SenderName ?? prompt.SenderId };
        }

        var principal = new Principal { Kind = PrincipalKind.Session, Id = prompt.SenderId, DisplayName = prompt.SenderName ?? prompt.SenderId };
        if (Guid.TryParse(prompt.SenderId, out var senderId))
        {
            var sender = await context.Db.Sessions
                .Where(s => s.Id == senderId)
                .Select(s => new { s.MachineId, MachineName = context.Db.Machines.Where(m => m.Id == s.MachineId).Select(m => m.Name).FirstOrDefault() })
                .FirstOrDefaultAsync(cancellationToken);
            if (sender is not null)
            {
                principal.MachineId = sender.MachineId.ToString("D");
                principal.MachineName = sender.MachineName ?? string.Empty;
            }
        }

        return principal;
    }

    /// <summary>The display name of a "token:&lt;id&gt;" actor (the token's name); null for others.</summary>
    private static async Task<string?> ActorNameAsync(IngestContext context, string? actor, CancellationToken cancellationToken)
    {
        if (actor is null || !actor.StartsWith("token:", StringComparison.Ordinal) || !Guid.TryParse(actor.AsSpan(6), out var tokenId))
        {
            return null;
        }

        return await context.Db.ApiTokens.Where(t => t.Id == tokenId).Select(t => t.Name).FirstOrDefaultAsync(cancellationToken);
    }
}
