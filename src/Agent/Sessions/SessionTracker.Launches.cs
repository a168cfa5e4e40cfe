namespace Relay.Agent.Sessions;

/// <summary>A launch the agent is about to start.</summary>
/// <param name="LaunchId">RELAY_LAUNCH_ID.</param>
/// <param name="ClaudeSessionId">The pre-assigned Claude session id.</param>
/// <param name="RelaySessionId">The Relay session the broker reserved; empty for a local launch.</param>
/// <param name="Name">The session name; empty for none.</param>
/// <param name="Cwd">Where Claude runs.</param>
internal sealed record LaunchRegistration(string LaunchId, string ClaudeSessionId, string RelaySessionId, string Name, string Cwd);

internal sealed partial class SessionTracker
{
    /// <summary>
    /// A launch is starting: its session exists from now on (a channel or hook carrying the launch id joins it), but is
    /// not reported in snapshots until <see cref="CompleteLaunch"/>.
    /// </summary>
    public SessionView RegisterLaunch(LaunchRegistration launch)
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var session = ByLaunchId(launch.LaunchId);
            if (session is null)
            {
                session = Add(new TrackedSession { Id = ++_nextId, FirstSeen = now, LastActivity = now, LaunchPending = true });
            }

            session.LaunchId = launch.LaunchId;
            session.AddClaudeId(launch.ClaudeSessionId, makeCurrent: session.ClaudeSessionId.Length == 0);
            session.RelaySessionId = session.RelaySessionId.Length > 0 ? session.RelaySessionId : launch.RelaySessionId;
            session.Name = session.Name.Length > 0 ? session.Name : launch.Name;
            session.Fill(null, launch.Cwd, null);
            // Launched with the channel flag by construction.
            session.ChannelCapable = true;
            ApplyStoredBindings(session);
            return session.View();
        }
    }

    /// <summary>The launcher started Claude: the session is live, with its pid when the launcher knows it.</summary>
    public SessionView? CompleteLaunch(string launchId, int claudePid, string tmuxTarget, bool channelsRefused = false)
    {
        lock (_lock)
        {
            var session = ByLaunchId(launchId);
            if (session is null)
            {
                return null;
            }

            session.LaunchPending = false;
            session.TmuxTarget = tmuxTarget;
            // Started with the flag, but Claude said it ignores it: what the channel pushes would be dropped silently.
            session.ChannelCapable = !channelsRefused;
            if (claudePid > 0 && session.Pid == 0)
            {
                // The channel or a hook may have brought the pid first, as a session of its own.
                var owner = _sessions.Find(s => s != session && !s.Gone && s.Pid == claudePid);
                if (owner is not null)
                {
                    owner.Absorb(session);
                    owner.ChannelCapable = !channelsRefused;
                    _sessions.Remove(session);
                    return owner.View();
                }

                var info = _probe.Probe(claudePid);
                session.Pid = claudePid;
                session.StartTicks = info?.StartTicks ?? 0;
                session.StartedAt = info?.StartedAt;
            }

            session.LastActivity = _time.GetUtcNow();
            return session.View();
        }
    }

    /// <summary>The launch failed: forget its session.</summary>
    public void ForgetLaunch(string launchId)
    {
        lock (_lock)
        {
            _sessions.RemoveAll(s => s.LaunchId == launchId && s.LaunchPending);
        }
    }
}
