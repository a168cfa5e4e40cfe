using Relay.Agent.Hooks;
using Relay.Protocol.V1;

namespace Relay.Agent.Sessions;

/// <summary>
/// The agent's view of the Claude processes on this machine (DESIGN.md §5: one Claude process = one Relay session).
/// Evidence comes from channels (their parent pid), hooks (payload session id, the hook client's parent pid, launch
/// ids) and launches; a session whose Claude process is gone is reported ended through a new SessionSnapshot.
/// </summary>
internal interface ISessionTracker
{
    /// <summary>
    /// Records a hook as evidence (a new Claude session id from a known process becomes a new segment of the same
    /// session) and returns the evidence to attach to its HookEvent: Claude session id, Relay session id when
    /// bound, launch id, pid and process start time when known, cwd, project dir.
    /// </summary>
    SessionEvidence ObserveHook(HookContext hook);

    /// <summary>Every live Claude process the agent tracks.</summary>
    IReadOnlyList<LiveSession> Snapshot();
}
