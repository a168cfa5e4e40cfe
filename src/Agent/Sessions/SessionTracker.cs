using Microsoft.Extensions.Options;
using Relay.Agent.Hooks;
using Relay.Agent.Local;
using Relay.Protocol.V1;

namespace Relay.Agent.Sessions;

/// <summary>Counts the prompts the agent holds for a session (the prompt queue; for snapshots and status).</summary>
internal interface IQueuedPromptCounter
{
    uint CountFor(SessionView session);
}

/// <summary>
/// The agent's view of the Claude processes on this machine: one Claude process = one session (DESIGN.md §5). A
/// process is named by its pid together with its start time, so a reused pid is a new process. Evidence joins:
/// channels and command hooks bring the pid; http hooks bring only a Claude session id and are attributed to the
/// process whose lineage holds it (a new id seen first over http stays a pid-less session until a command hook or a
/// channel ties it); launches bring a launch id. A new Claude session id from a known process (/clear, resume) joins
/// that process's lineage. Bindings from the broker add the Relay session id and the name.
/// </summary>
internal sealed partial class SessionTracker : ISessionTracker
{
    private readonly Lock _lock = new();
    private readonly List<TrackedSession> _sessions = [];
    private readonly Dictionary<string, SessionBinding> _bindings = new(StringComparer.Ordinal);
    private readonly IProcessProbe _probe;
    private readonly TimeProvider _time;
    private readonly LocalAgentOptions _options;
    private readonly string[] _channelTags;
    private long _nextId;

    public SessionTracker(IProcessProbe probe, TimeProvider time, IOptions<LocalAgentOptions> options)
    {
        _probe = probe;
        _time = time;
        _options = options.Value;
        _channelTags = ["server:" + _options.ChannelServerName, "plugin:" + _options.ChannelServerName + "@"];
    }

    /// <summary>Set by the prompt queue, so snapshots can say how many prompts wait for each session.</summary>
    public IQueuedPromptCounter? QueuedPrompts { get; set; }

    /// <inheritdoc />
    public SessionEvidence ObserveHook(HookContext hook)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            TrackedSession session;
            if (hook.ClaudePid > 0)
            {
                session = ByProcess(hook.ClaudePid, now);
                AbsorbPidless(session, hook.ClaudeSessionId, hook.LaunchId);
            }
            else
            {
                session = ByClaudeId(hook.ClaudeSessionId)
                    ?? ByLaunchId(hook.LaunchId)
                    ?? Add(new TrackedSession { Id = ++_nextId, FirstSeen = now });
            }

            session.AddClaudeId(hook.ClaudeSessionId, makeCurrent: true);
            session.Fill(hook.LaunchId, hook.WorkingDirectory, hook.ProjectDirectory);
            session.LastActivity = now;
            ApplyStoredBindings(session);

            // A pid-less session has no process to watch: its SessionEnd is the only end it gets (other than idling out).
            if (session.Pid == 0 && hook.HookEventName == "SessionEnd" && !session.LaunchPending
                && hook.Payload["reason"]?.GetValue<string>() is not "clear")
            {
                _sessions.Remove(session);
            }

            return session.View().Evidence(hook.ClaudeSessionId);
        }
    }

    /// <summary>The session a hook (already observed) belongs to: its process first, else its Claude session id.</summary>
    public SessionView? FindForHook(HookContext hook)
    {
        lock (_lock)
        {
            var byPid = hook.ClaudePid > 0 ? _sessions.Find(s => !s.Gone && s.Pid == hook.ClaudePid) : null;
            return (byPid ?? ByClaudeId(hook.ClaudeSessionId))?.View();
        }
    }

    /// <summary>Records a channel's hello and returns its session.</summary>
    public SessionView ObserveChannel(ChannelHello hello)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            TrackedSession session;
            if (hello.ClaudePid > 0)
            {
                session = ByProcess(hello.ClaudePid, now);
                AbsorbPidless(session, hello.ClaudeSessionId, hello.LaunchId);
            }
            else
            {
                session = ByClaudeId(hello.ClaudeSessionId)
                    ?? ByLaunchId(hello.LaunchId)
                    ?? Add(new TrackedSession { Id = ++_nextId, FirstSeen = now });
            }

            // The channel's id is the one Claude spawned it with; after /clear the hooks know a newer one.
            session.AddClaudeId(hello.ClaudeSessionId, makeCurrent: session.ClaudeSessionId.Length == 0);
            session.Fill(hello.LaunchId, hello.Cwd, hello.ProjectDir);
            session.LastActivity = now;
            ApplyStoredBindings(session);
            return session.View();
        }
    }

    /// <summary>Marks <paramref name="channelId"/> as the session's attached channel (null: none).</summary>
    public void SetChannel(long sessionId, string? channelId)
    {
        lock (_lock)
        {
            if (_sessions.Find(s => s.Id == sessionId) is { } session)
            {
                session.ChannelId = channelId;
                session.LastActivity = _time.GetUtcNow();
            }
        }
    }

    /// <summary>Clears the session's channel only if it is still <paramref name="channelId"/> (a replaced channel leaves the new one).</summary>
    public void ClearChannel(long sessionId, string channelId)
    {
        lock (_lock)
        {
            if (_sessions.Find(s => s.Id == sessionId) is { } session && session.ChannelId == channelId)
            {
                session.ChannelId = null;
            }
        }
    }

    /// <summary>Marks channel or hook activity.</summary>
    public void Touch(long sessionId)
    {
        lock (_lock)
        {
            if (_sessions.Find(s => s.Id == sessionId) is { } session)
            {
                session.LastActivity = _time.GetUtcNow();
            }
        }
    }

    public SessionView? Get(long sessionId)
    {
        lock (_lock)
        {
            return _sessions.Find(s => s.Id == sessionId)?.View();
        }
    }

    /// <summary>Every tracked session, launches in progress included.</summary>
    public IReadOnlyList<SessionView> All()
    {
        lock (_lock)
        {
            return _sessions.Select(s => s.View()).ToList();
        }
    }

    /// <summary>The session a prompt addressed by these ids goes to: launch id first, then Relay id, then Claude id.</summary>
    public SessionView? FindAddressed(string relaySessionId, string claudeSessionId, string launchId)
    {
        lock (_lock)
        {
            var session = ByLaunchId(launchId)
                ?? (relaySessionId.Length > 0 ? _sessions.Find(s => !s.Gone && s.RelaySessionId == relaySessionId) : null)
                ?? ByClaudeId(claudeSessionId);
            return session?.View();
        }
    }

    /// <summary>The session <paramref name="evidence"/> names (a StopRequest's target).</summary>
    public SessionView? Find(SessionEvidence evidence)
    {
        lock (_lock)
        {
            var session = (evidence.ClaudePid > 0 ? _sessions.Find(s => !s.Gone && s.Pid == evidence.ClaudePid) : null)
                ?? ByLaunchId(evidence.LaunchId)
                ?? (evidence.SessionId.Length > 0 ? _sessions.Find(s => !s.Gone && s.RelaySessionId == evidence.SessionId) : null)
                ?? ByClaudeId(evidence.ClaudeSessionId);
            return session?.View();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<LiveSession> Snapshot()
    {
        var views = All().Where(s => !s.LaunchPending).ToList();
        var counter = QueuedPrompts;
        return views.Select(v => v.ToLiveSession(counter?.CountFor(v) ?? 0)).ToList();
    }

    /// <summary>
    /// Drops every session whose process is gone (or, for pid-less sessions, that idled out) and returns them. A pid now
    /// held by a process with another start time is a different process: the session is gone.
    /// </summary>
    public IReadOnlyList<SessionView> RemoveGone()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var gone = _sessions.Where(s => s.Gone || (!s.LaunchPending && (s.Pid > 0
                    ? _probe.Probe(s.Pid) is not { } info || info.StartTicks != s.StartTicks
                    : now - s.LastActivity >= _options.PidlessSessionIdleTimeout)))
                .ToList();
            foreach (var session in gone)
            {
                _sessions.Remove(session);
            }

            return gone.Select(s => s.View()).ToList();
        }
    }

    private TrackedSession Add(TrackedSession session)
    {
        _sessions.Add(session);
        return session;
    }

    /// <summary>The session of the process <paramref name="pid"/>, created when new; a stale one with a reused pid is replaced.</summary>
    private TrackedSession ByProcess(int pid, DateTimeOffset now)
    {
        var info = _probe.Probe(pid);
        var existing = _sessions.Find(s => !s.Gone && s.Pid == pid);
        if (existing is not null && (info is null || info.StartTicks == existing.StartTicks))
        {
            return existing;
        }

        if (existing is not null)
        {
            // The pid was reused: the old process is gone. The liveness check reports it; this is someone new.
            existing.Gone = true;
        }

        return Add(new TrackedSession
        {
            Id = ++_nextId,
            Pid = pid,
            StartTicks = info?.StartTicks ?? 0,
            StartedAt = info?.StartedAt,
            // Without the channel flag Claude drops channel notifications silently, so its prompts must go through hooks.
            ChannelCapable = info is not null && info.CommandLine.Any(a => _channelTags.Any(t => a.Contains(t, StringComparison.Ordinal))),
            FirstSeen = now,
            LastActivity = now,
        });
    }

    /// <summary>A pid-less session (http hooks, or a launch whose pid the launcher did not know) that this process owns joins it.</summary>
    private void AbsorbPidless(TrackedSession owner, string claudeSessionId, string? launchId)
    {
        var orphans = _sessions.Where(s => s != owner && !s.Gone && s.Pid == 0 && (
                (claudeSessionId.Length > 0 && s.Lineage.Contains(claudeSessionId))
                || (!string.IsNullOrEmpty(launchId) && s.LaunchId == launchId)))
            .ToList();
        foreach (var orphan in orphans)
        {
            owner.Absorb(orphan);
            _sessions.Remove(orphan);
        }
    }

    private TrackedSession? ByClaudeId(string claudeSessionId) =>
        claudeSessionId.Length == 0
            ? null
            : _sessions.Where(s => !s.Gone && s.Lineage.Contains(claudeSessionId)).MaxBy(s => s.LastActivity);

    private TrackedSession? ByLaunchId(string? launchId) =>
        string.IsNullOrEmpty(launchId) ? null : _sessions.Find(s => !s.Gone && s.LaunchId == launchId);
}
