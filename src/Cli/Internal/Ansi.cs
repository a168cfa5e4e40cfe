using System.Text.RegularExpressions;

namespace Relay.Cli.Internal;

/// <summary>How a painted cell looks.</summary>
internal enum Tone
{
    /// <summary>Column headers and field labels.</summary>
    Header,

    /// <summary>Healthy or finished well: online, replied, allowed, started.</summary>
    Good,

    /// <summary>Needs attention soon: waiting for approval, pending, queued.</summary>
    Warn,

    /// <summary>Failed, denied, revoked, offline.</summary>
    Bad,

    /// <summary>Less important detail: ids, cursors.</summary>
    Dim,
}

/// <summary>ANSI SGR escapes, and the width of text that contains them.</summary>
internal static partial class Ansi
{
    public const string Reset = "\u001b[0m";

    /// <summary>Erase from the cursor to the end of the line (spinners).</summary>
    public const string ClearLine = "\r\u001b[K";

    public static string Paint(string text, Tone tone) => tone switch
    {
        Tone.Header => "\u001b[1m",
        Tone.Good => "\u001b[32m",
        Tone.Warn => "\u001b[33m",
        Tone.Bad => "\u001b[31m",
        _ => "\u001b[2m",
    } + text + Reset;

    public static int VisibleLength(string text) => text.Contains('\u001b', StringComparison.Ordinal) ? Strip(text).Length : text.Length;

    public static string Strip(string text) => Escape().Replace(text, string.Empty);

    [GeneratedRegex("\u001b\\[[0-9;]*[A-Za-z]")]
    private static partial Regex Escape();
}
