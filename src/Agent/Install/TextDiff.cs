using System.Globalization;
using System.Text;

namespace Relay.Agent.Install;

/// <summary>A unified diff of two small texts, for <c>install --dry-run</c>.</summary>
internal static class TextDiff
{
    private const int Context = 3;

    // Above this many cells the middle part is shown as removed-then-added instead of aligned (never for a
    // real settings file: the changed region is small once the common head and tail are cut off).
    private const long MaxTableCells = 4_000_000;

    /// <summary>The unified diff of <paramref name="before"/> and <paramref name="after"/>; empty when they are equal.</summary>
    public static string Unified(string before, string after, string fromName, string toName)
    {
        var a = SplitLines(before);
        var b = SplitLines(after);
        var edits = Edits(a, b);
        if (edits.TrueForAll(e => e.Kind == ' '))
        {
            return string.Empty;
        }

        var output = new StringBuilder();
        output.Append("--- ").Append(fromName).Append('\n');
        output.Append("+++ ").Append(toName).Append('\n');
        var index = 0;
        while (index < edits.Count)
        {
            var firstChange = edits.FindIndex(index, e => e.Kind != ' ');
            if (firstChange < 0)
            {
                break;
            }

            var start = Math.Max(index, firstChange - Context);
            var end = firstChange;
            // Extend the hunk while the next change is within two contexts of the last one.
            while (true)
            {
                var lastChange = end;
                var next = edits.FindIndex(lastChange + 1, e => e.Kind != ' ');
                var stop = Math.Min(edits.Count, lastChange + 1 + Context);
                if (next < 0 || next > lastChange + 2 * Context)
                {
                    end = stop;
                    break;
                }

                end = next;
            }

            AppendHunk(output, edits, start, end);
            index = end;
        }

        return output.ToString();
    }

    private static void AppendHunk(StringBuilder output, List<Edit> edits, int start, int end)
    {
        var hunk = edits.GetRange(start, end - start);
        var oldCount = hunk.Count(e => e.Kind != '+');
        var newCount = hunk.Count(e => e.Kind != '-');
        // A side with no lines in the hunk is named by the line before it (0 for the start of the file).
        var oldStart = oldCount == 0 ? hunk[0].OldLine - 1 : hunk.Find(e => e.Kind != '+').OldLine;
        var newStart = newCount == 0 ? hunk[0].NewLine - 1 : hunk.Find(e => e.Kind != '-').NewLine;
        output.Append(CultureInfo.InvariantCulture, $"@@ -{oldStart},{oldCount} +{newStart},{newCount} @@\n");
        foreach (var edit in hunk)
        {
            output.Append(edit.Kind).Append(edit.Text).Append('\n');
        }
    }

    private static List<Edit> Edits(string[] a, string[] b)
    {
        var head = 0;
        while (head < a.Length && head < b.Length && a[head] == b[head])
        {
            head++;
        }

        var tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && a[a.Length - 1 - tail] == b[b.Length - 1 - tail])
        {
            tail++;
        }

        var edits = new List<Edit>(a.Length + b.Length);
        for (var i = 0; i < head; i++)
        {
            edits.Add(new Edit(' ', a[i], i + 1, i + 1));
        }

        Middle(a.AsSpan(head, a.Length - head - tail), b.AsSpan(head, b.Length - head - tail), head, edits);
        for (var i = 0; i < tail; i++)
        {
            var oldIndex = a.Length - tail + i;
            var newIndex = b.Length - tail + i;
            edits.Add(new Edit(' ', a[oldIndex], oldIndex + 1, newIndex + 1));
        }

        return edits;
    }

    // Longest common subsequence over the changed middle.
    private static void Middle(ReadOnlySpan<string> a, ReadOnlySpan<string> b, int offset, List<Edit> edits)
    {
        if ((long)a.Length * b.Length > MaxTableCells)
        {
            for (var i = 0; i < a.Length; i++)
            {
                edits.Add(new Edit('-', a[i], offset + i + 1, offset + 1));
            }

            for (var j = 0; j < b.Length; j++)
            {
                edits.Add(new Edit('+', b[j], offset + a.Length + 1, offset + j + 1));
            }

            return;
        }

        var table = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
            {
                table[i, j] = a[i] == b[j] ? table[i + 1, j + 1] + 1 : Math.Max(table[i + 1, j], table[i, j + 1]);
            }
        }

        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                edits.Add(new Edit(' ', a[x], offset + x + 1, offset + y + 1));
                x++;
                y++;
            }
            else if (x < a.Length && (y == b.Length || table[x + 1, y] >= table[x, y + 1]))
            {
                // Removals before additions, as diff(1) shows a replaced line.
                edits.Add(new Edit('-', a[x], offset + x + 1, offset + y + 1));
                x++;
            }
            else
            {
                edits.Add(new Edit('+', b[y], offset + x + 1, offset + y + 1));
                y++;
            }
        }
    }

    private static string[] SplitLines(string text)
    {
        if (text.Length == 0)
        {
            return [];
        }

        var lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    private readonly record struct Edit(char Kind, string Text, int OldLine, int NewLine);
}
