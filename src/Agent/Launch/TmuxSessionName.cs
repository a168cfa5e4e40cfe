using System.Text;

namespace Relay.Agent.Launch;

/// <summary>tmux session names for launches: readable, safe as tmux targets (no '.', ':' or spaces), unique.</summary>
internal static class TmuxSessionName
{
    private const int MaxLength = 48;

    /// <summary>The preferred name: the Relay session name, or <c>claude-&lt;launch id suffix&gt;</c> without one.</summary>
    public static string Preferred(string? name, string launchId) =>
        Sanitise(name) is { Length: > 0 } clean ? clean : "claude-" + Suffix(launchId);

    /// <summary>The fallback when the preferred name is taken: the name with the end of the launch id.</summary>
    public static string Unique(string? name, string launchId) =>
        Sanitise(name) is { Length: > 0 } clean ? Truncate(clean, MaxLength - 9) + "-" + Suffix(launchId) : "claude-" + Suffix(launchId);

    /// <summary>Letters, digits, '_' and '-' kept; every other run of characters becomes one '-'.</summary>
    public static string Sanitise(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return string.Empty;
        }

        var builder = new StringBuilder(value.Length);
        foreach (var c in value.Trim())
        {
            var keep = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_' or '-';
            if (keep)
            {
                builder.Append(c);
            }
            else if (builder.Length > 0 && builder[^1] != '-')
            {
                builder.Append('-');
            }
        }

        return Truncate(builder.ToString().Trim('-'), MaxLength);
    }

    private static string Suffix(string launchId)
    {
        var clean = new string(launchId.Where(char.IsAsciiLetterOrDigit).ToArray()).ToLowerInvariant();
        return clean.Length >= 8 ? clean[^8..] : clean.PadLeft(8, '0');
    }

    private static string Truncate(string value, int length) => value.Length <= length ? value : value[..length].TrimEnd('-');
}
