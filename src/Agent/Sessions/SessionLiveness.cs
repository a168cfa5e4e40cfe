using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Approvals;
using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Sessions;

/// <summary>
/// Reports the live sessions to the broker: a SessionSnapshot after every Welcome and whenever a Claude process is
/// gone, so the broker ends what is not listed (no ghosts). Requests of a gone session close.
/// </summary>
internal sealed partial class SessionLiveness(
    SessionTracker tracker,
    ApprovalCoordinator approvals,
    IAgentSpool spool,
    TimeProvider time,
    ILogger<SessionLiveness> logger)
{
    /// <summary>
    /// Drops the sessions whose process is gone and, when there were any (or <paramref name="always"/>: after a
    /// Welcome), spools a new snapshot.
    /// </summary>
    public async ValueTask CheckAsync(bool always, CancellationToken cancellationToken)
    {
        var gone = tracker.RemoveGone();
        if (gone.Count == 0)
        {
            if (always)
            {
                await SpoolSnapshotAsync(cancellationToken);
            }

            return;
        }

        foreach (var session in gone)
        {
            Log.Gone(logger, session.Pid, session.ClaudeSessionId, session.RelaySessionId);
        }

        await SpoolSnapshotAsync(cancellationToken);
        await approvals.OnSessionsGoneAsync(gone, cancellationToken);
    }

    /// <summary>
    /// Spools the complete list of live sessions, taken when the spool gives it its seq: a list taken earlier could miss
    /// a session whose first hook is spooled in between, and the broker would end that new session as a ghost.
    /// </summary>
    public async ValueTask SpoolSnapshotAsync(CancellationToken cancellationToken) =>
        await spool.AppendAsync(
            () => new AgentMessage
            {
                SessionSnapshot = new SessionSnapshot { TakenAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()), Sessions = { tracker.Snapshot() } },
            },
            cancellationToken);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Claude process {Pid} is gone (Claude session {ClaudeSessionId}, Relay session '{SessionId}').")]
        public static partial void Gone(ILogger logger, int pid, string claudeSessionId, string sessionId);
    }
}
