using System.Collections.Concurrent;
using Relay.Agent.Hooks;
using Relay.Agent.Sessions;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>Records the hooks it sees and answers evidence with the payload's session id (and a fixed Relay session id).</summary>
internal sealed class FakeSessionTracker : ISessionTracker
{
    public const string RelaySessionId = "relay-session-1";

    public ConcurrentQueue<HookContext> Observed { get; } = new();

    public bool Throw { get; set; }

    public SessionEvidence ObserveHook(HookContext hook)
    {
        Observed.Enqueue(hook);
        if (Throw)
        {
            throw new InvalidOperationException("tracker broke");
        }

        return new SessionEvidence { ClaudeSessionId = hook.ClaudeSessionId, SessionId = RelaySessionId, ClaudePid = hook.ClaudePid };
    }

    public IReadOnlyList<LiveSession> Snapshot() => [];
}
