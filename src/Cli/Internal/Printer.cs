using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Relay.Cli.Internal;

/// <summary>
/// Writes a command's result: JSON data only on stdout with <c>--json</c>, aligned tables otherwise (coloured only on a
/// terminal, never with NO_COLOR). Notes for people (hints, next-page tokens) always go to stderr so that stdout stays
/// parseable.
/// </summary>
internal sealed class Printer(CliContext context, bool json)
{
    /// <summary>The one JSON shape relayctl prints: proto field names (snake_case), default values included, one line.</summary>
    public static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default
        .WithPreserveProtoFieldNames(true)
        .WithFormatDefaultValues(true));

    public bool Json { get; } = json;

    public bool Color { get; } = !json && context.UseColor;

    public TextWriter Output => context.Output;

    public TextWriter Error => context.Error;

    public void Message(IMessage message) => Output.WriteLine(Formatter.Format(message));

    public void Note(string text) => Error.WriteLine(text);

    /// <summary><paramref name="text"/> in <paramref name="tone"/> when colour is on; as is otherwise.</summary>
    public string Paint(string text, Tone tone) => Color ? Ansi.Paint(text, tone) : text;

    /// <summary>Columns padded to their widest cell; the last column is not padded. Cells may be painted.</summary>
    public void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = new List<IReadOnlyList<string>> { headers.Select(h => Paint(h, Tone.Header)).ToList() };
        all.AddRange(rows);
        var widths = new int[headers.Count];
        foreach (var row in all)
        {
            for (var i = 0; i < headers.Count; i++)
            {
                widths[i] = Math.Max(widths[i], i < row.Count ? Ansi.VisibleLength(row[i]) : 0);
            }
        }

        var line = new StringBuilder();
        foreach (var row in all)
        {
            line.Clear();
            for (var i = 0; i < headers.Count; i++)
            {
                var cell = i < row.Count ? row[i] : string.Empty;
                line.Append(cell);
                if (i < headers.Count - 1)
                {
                    line.Append(' ', widths[i] - Ansi.VisibleLength(cell) + 2);
                }
            }

            Output.WriteLine(line.ToString().TrimEnd());
        }

        if (all.Count == 1)
        {
            Note("No results.");
        }
    }

    /// <summary>Label/value lines for one object.</summary>
    public void Fields(IEnumerable<(string Label, string Value)> fields)
    {
        var list = fields.ToList();
        var width = list.Max(f => f.Label.Length) + 2;
        foreach (var (label, value) in list)
        {
            Output.WriteLine(Paint((label + ":").PadRight(width), Tone.Header) + value);
        }
    }

    public void NextPage(string nextPageToken)
    {
        if (!string.IsNullOrEmpty(nextPageToken))
        {
            Note("More results: repeat with --page-token " + nextPageToken);
        }
    }
}

/// <summary>How values look in tables.</summary>
internal static class Show
{
    public static string Time(Timestamp? timestamp) =>
        timestamp is null ? "-" : timestamp.ToDateTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Text(string? value) => string.IsNullOrEmpty(value) ? "-" : value;

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string YesNo(bool value) => value ? "yes" : "no";

    /// <summary>A duration as people write it: 90s, 5m, 1h30m.</summary>
    public static string Duration(TimeSpan value)
    {
        if (value < TimeSpan.FromSeconds(1))
        {
            return ((int)value.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
        }

        var builder = new StringBuilder();
        if (value.Days > 0)
        {
            builder.Append(value.Days.ToString(CultureInfo.InvariantCulture)).Append('d');
        }

        if (value.Hours > 0)
        {
            builder.Append(value.Hours.ToString(CultureInfo.InvariantCulture)).Append('h');
        }

        if (value.Minutes > 0)
        {
            builder.Append(value.Minutes.ToString(CultureInfo.InvariantCulture)).Append('m');
        }

        if (value.Seconds > 0)
        {
            builder.Append(value.Seconds.ToString(CultureInfo.InvariantCulture)).Append('s');
        }

        return builder.ToString();
    }

    /// <summary>One line, at most <paramref name="max"/> characters.</summary>
    public static string Excerpt(string? value, int max = 60)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "-";
        }

        var flat = value.ReplaceLineEndings(" ");
        return flat.Length <= max ? flat : string.Concat(flat.AsSpan(0, max - 1), "…");
    }

    /// <summary>A protobuf enum value as kebab case without its type prefix: <c>WaitingForInput</c> → <c>waiting-for-input</c>.</summary>
    public static string Enum<T>(T value)
        where T : struct, System.Enum
    {
        var name = value.ToString();
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }

    public static string Principal(Relay.Protocol.V1.Principal? principal) =>
        principal is null ? "-" : Text(string.IsNullOrEmpty(principal.DisplayName) ? principal.Id : principal.DisplayName);
}

/// <summary>Durations typed on the command line: 90s, 5m, 2h, 1d, 500ms, or a TimeSpan such as 00:05:00.</summary>
internal static class Durations
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        text = text.Trim();
        (string Suffix, Func<double, TimeSpan> Make)[] units =
        [
            ("ms", TimeSpan.FromMilliseconds), ("s", TimeSpan.FromSeconds), ("m", TimeSpan.FromMinutes),
            ("h", TimeSpan.FromHours), ("d", TimeSpan.FromDays),
        ];
        foreach (var (suffix, make) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text.AsSpan(0, text.Length - suffix.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                && number > 0)
            {
                value = make(number);
                return true;
            }
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value > TimeSpan.Zero;
    }
}
