using Relay.Protocol.V1;

namespace Relay.Agent.Sessions;

internal sealed partial class SessionTracker
{
    /// <summary>
    /// The broker's view of one session: it names the Relay session and its name. Kept (until ended) so that a process
    /// the agent meets later picks it up. Returns the sessions whose Relay id or name changed.
    /// </summary>
    public IReadOnlyList<SessionView> ApplyBinding(SessionBinding binding)
    {
        lock (_lock)
        {
            return ApplyBindingCore(binding);
        }
    }

    /// <summary>A Welcome's bindings replace every binding held (those not listed have ended or are not known yet).</summary>
    public IReadOnlyList<SessionView> ReplaceBindings(IEnumerable<SessionBinding> bindings)
    {
        lock (_lock)
        {
            _bindings.Clear();
            var changed = new Dictionary<long, SessionView>();
            foreach (var binding in bindings)
            {
                foreach (var view in ApplyBindingCore(binding))
                {
                    changed[view.Id] = view;
                }
            }

            return changed.Values.ToList();
        }
    }

    private List<SessionView> ApplyBindingCore(SessionBinding binding)
    {
        if (binding.SessionId.Length == 0)
        {
            return [];
        }

        var changed = new List<SessionView>();
        if (binding.Ended)
        {
            _bindings.Remove(binding.SessionId);
            foreach (var session in _sessions.Where(s => s.RelaySessionId == binding.SessionId))
            {
                // The broker ended it (for example NOT_IN_SNAPSHOT after a pid reuse); a live process is re-bound by its next evidence.
                session.RelaySessionId = string.Empty;
                changed.Add(session.View());
            }

            return changed;
        }

        _bindings[binding.SessionId] = binding;
        foreach (var session in _sessions.Where(s => !s.Gone && Matches(s, binding)))
        {
            if (Bind(session, binding))
            {
                changed.Add(session.View());
            }
        }

        return changed;
    }

    private void ApplyStoredBindings(TrackedSession session)
    {
        foreach (var binding in _bindings.Values)
        {
            if (Matches(session, binding))
            {
                Bind(session, binding);
                return;
            }
        }
    }

    private static bool Matches(TrackedSession session, SessionBinding binding)
    {
        if (session.RelaySessionId.Length > 0)
        {
            return session.RelaySessionId == binding.SessionId;
        }

        if (binding.ClaudePid > 0 && session.Pid == binding.ClaudePid)
        {
            // Within a second: /proc's start time and the broker's copy of it are both rounded.
            return binding.ClaudeStartedAt is null || session.StartedAt is null
                || (binding.ClaudeStartedAt.ToDateTimeOffset() - session.StartedAt.Value).Duration() < TimeSpan.FromSeconds(1);
        }

        return (binding.LaunchId.Length > 0 && binding.LaunchId == session.LaunchId)
            || binding.ClaudeSessionIds.Any(session.Lineage.Contains);
    }

    private static bool Bind(TrackedSession session, SessionBinding binding)
    {
        var changed = session.RelaySessionId != binding.SessionId || session.Name != binding.Name;
        session.RelaySessionId = binding.SessionId;
        session.Name = binding.Name;
        return changed;
    }
}
