namespace Relay.Agent.Sessions;

/// <summary>One Claude process as the tracker holds it; mutable, and only touched under the tracker's lock.</summary>
internal sealed class TrackedSession
{
    public long Id { get; init; }

    public int Pid { get; set; }

    public long StartTicks { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public bool ChannelCapable { get; set; }

    public List<string> Lineage { get; } = [];

    public string ClaudeSessionId { get; set; } = string.Empty;

    public string RelaySessionId { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string LaunchId { get; set; } = string.Empty;

    public string Cwd { get; set; } = string.Empty;

    public string ProjectDir { get; set; } = string.Empty;

    public string TmuxTarget { get; set; } = string.Empty;

    public string? ChannelId { get; set; }

    public DateTimeOffset FirstSeen { get; set; }

    public DateTimeOffset LastActivity { get; set; }

    public bool LaunchPending { get; set; }

    /// <summary>Its pid now belongs to another process: reported gone at the next liveness check.</summary>
    public bool Gone { get; set; }

    public void AddClaudeId(string claudeSessionId, bool makeCurrent)
    {
        if (claudeSessionId.Length == 0)
        {
            return;
        }

        if (!Lineage.Contains(claudeSessionId))
        {
            Lineage.Add(claudeSessionId);
        }

        if (makeCurrent)
        {
            ClaudeSessionId = claudeSessionId;
        }
    }

    /// <summary>Fills what was unknown; the cwd follows the latest evidence (Claude's cwd moves with <c>cd</c>).</summary>
    public void Fill(string? launchId, string? cwd, string? projectDir)
    {
        if (LaunchId.Length == 0 && !string.IsNullOrEmpty(launchId))
        {
            LaunchId = launchId;
        }

        if (!string.IsNullOrEmpty(cwd))
        {
            Cwd = cwd;
        }

        if (ProjectDir.Length == 0 && !string.IsNullOrEmpty(projectDir))
        {
            ProjectDir = projectDir;
        }
    }

    /// <summary>Takes over a pid-less session that turned out to be this process.</summary>
    public void Absorb(TrackedSession other)
    {
        // The other's ids were seen first (http hooks before SessionStart, or the launcher's pre-assigned id).
        var merged = other.Lineage.Concat(Lineage).Distinct(StringComparer.Ordinal).ToList();
        Lineage.Clear();
        Lineage.AddRange(merged);
        if (ClaudeSessionId.Length == 0 || (other.LastActivity > LastActivity && other.ClaudeSessionId.Length > 0))
        {
            ClaudeSessionId = other.ClaudeSessionId;
        }

        RelaySessionId = RelaySessionId.Length > 0 ? RelaySessionId : other.RelaySessionId;
        Name = Name.Length > 0 ? Name : other.Name;
        LaunchId = LaunchId.Length > 0 ? LaunchId : other.LaunchId;
        TmuxTarget = TmuxTarget.Length > 0 ? TmuxTarget : other.TmuxTarget;
        Cwd = Cwd.Length > 0 ? Cwd : other.Cwd;
        ProjectDir = ProjectDir.Length > 0 ? ProjectDir : other.ProjectDir;
        ChannelId ??= other.ChannelId;
        FirstSeen = other.FirstSeen < FirstSeen ? other.FirstSeen : FirstSeen;
        LastActivity = other.LastActivity > LastActivity ? other.LastActivity : LastActivity;
    }

    public SessionView View() => new(
        Id, Pid, StartedAt, ChannelCapable, Lineage.ToArray(), ClaudeSessionId, RelaySessionId, Name, LaunchId, Cwd, ProjectDir,
        TmuxTarget, ChannelId, FirstSeen, LastActivity, LaunchPending);
}
