using System.Security.Cryptography;
using System.Text;

namespace Relay.Agent.Hooks;

/// <summary>
/// The per-user secret Claude Code's http hooks send in <see cref="Config.AgentConfig.HookSecretHeader"/>. Set once at
/// start from agent.json (<see cref="Config.AgentConfigStore.EnsureHookSecret"/>); compared in constant time.
/// </summary>
internal sealed class HookSecret
{
    private byte[]? _expected;

    /// <summary>True once <see cref="Set"/> was called.</summary>
    public bool IsSet => Volatile.Read(ref _expected) is not null;

    /// <summary>Sets the secret the endpoint accepts.</summary>
    public void Set(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        Volatile.Write(ref _expected, Encoding.UTF8.GetBytes(secret));
    }

    /// <summary>True when <paramref name="presented"/> is the secret. Never true before <see cref="Set"/>.</summary>
    public bool Matches(string? presented)
    {
        var expected = Volatile.Read(ref _expected);
        if (expected is null || string.IsNullOrEmpty(presented))
        {
            return false;
        }

        // FixedTimeEquals leaks only whether the lengths differ, and every secret has the same length.
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.UTF8.GetBytes(presented));
    }
}
