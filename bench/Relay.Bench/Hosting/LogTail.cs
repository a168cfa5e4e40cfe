namespace Relay.Bench.Hosting;

/// <summary>The latest lines a child process printed, bounded, for the error messages of a scenario that fails.</summary>
internal sealed class LogTail
{
    private readonly List<string> _lines = [];

    public void Add(string line)
    {
        lock (_lines)
        {
            _lines.Add(line);
            if (_lines.Count > 1000)
            {
                _lines.RemoveRange(0, 500);
            }
        }
    }

    /// <summary>The last <paramref name="count"/> lines, one per line.</summary>
    public string Last(int count)
    {
        lock (_lines)
        {
            return string.Join('\n', _lines.TakeLast(count));
        }
    }
}
