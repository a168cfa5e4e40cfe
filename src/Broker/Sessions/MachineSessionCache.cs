namespace Relay.Broker.Sessions;

/// <summary>
/// What one stream has learnt about its machine's sessions: which Relay session each Claude session id and launch id
/// belongs to. A Claude session id never moves to another session and a launch is one session, so entries stay true; the
/// cache lives and dies with the stream (a replaced or failed stream starts afresh), so a rolled-back batch can leave
/// at worst an entry for a session that does not exist, which the next lookup by id detects.
/// </summary>
internal sealed class MachineSessionCache
{
    private const int Capacity = 10_000;

    private readonly Dictionary<Guid, Guid> _byClaudeId = [];
    private readonly Dictionary<string, Guid> _awaitingClear = new(StringComparer.Ordinal);

    public bool TryGetByClaudeId(Guid claudeSessionId, out Guid sessionId) => _byClaudeId.TryGetValue(claudeSessionId, out sessionId);

    public void Remember(Guid claudeSessionId, Guid sessionId)
    {
        if (_byClaudeId.Count >= Capacity)
        {
            // Bounded: dropping everything costs a few lookups, never correctness.
            _byClaudeId.Clear();
        }

        _byClaudeId[claudeSessionId] = sessionId;
    }

    public void Forget(Guid claudeSessionId) => _byClaudeId.Remove(claudeSessionId);

    /// <summary>
    /// A SessionEnd(reason "clear") was seen for <paramref name="sessionId"/> in <paramref name="cwd"/>: the next
    /// SessionStart(source "clear") there with an unknown Claude session id and no process evidence is its new segment.
    /// Hook requests do not always carry the Claude pid, and /clear is the common case that needs it.
    /// </summary>
    public void AwaitClear(string cwd, Guid sessionId)
    {
        if (_awaitingClear.Count >= 1024)
        {
            _awaitingClear.Clear();
        }

        _awaitingClear[cwd] = sessionId;
    }

    public bool TryTakeAwaitingClear(string cwd, out Guid sessionId) => _awaitingClear.Remove(cwd, out sessionId);
}
