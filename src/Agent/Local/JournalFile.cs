using System.Text;

namespace Relay.Agent.Local;

/// <summary>
/// An append-only file of text lines, each append fsynced before it returns: the local side's durable record (prompt
/// queue, accepted reply ids, launches). Appending never renames, so a crash leaves at worst a torn last line, which
/// <see cref="ReadLines"/> skips. <see cref="Rewrite"/> compacts it (temporary file, fsync, rename).
/// </summary>
internal sealed class JournalFile : IDisposable
{
    private static readonly FileStreamOptions AppendOptions = new()
    {
        Mode = FileMode.Append,
        Access = FileAccess.Write,
        Share = FileShare.Read,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    };

    private readonly SemaphoreSlim _gate = new(1, 1);
    private FileStream? _stream;

    public JournalFile(string path)
    {
        FilePath = path;
    }

    public string FilePath { get; }

    /// <summary>Every complete line in the file (a torn last line from a crash is skipped).</summary>
    public IReadOnlyList<string> ReadLines()
    {
        if (!File.Exists(FilePath))
        {
            return [];
        }

        var text = File.ReadAllText(FilePath, Encoding.UTF8);
        var lines = text.Split('\n');
        // The last element is what follows the last '\n': empty for a clean file, a torn line after a crash.
        return lines.Take(lines.Length - 1).Where(l => l.Length > 0).ToList();
    }

    /// <summary>Appends one line (no '\n' inside) and returns once it is on disk.</summary>
    public async ValueTask AppendAsync(string line, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _stream ??= new FileStream(FilePath, AppendOptions);
            await _stream.WriteAsync(bytes, CancellationToken.None).ConfigureAwait(false);
            _stream.Flush(flushToDisk: true);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Replaces the whole file with <paramref name="lines"/> atomically.</summary>
    public void Rewrite(IEnumerable<string> lines)
    {
        _gate.Wait();
        try
        {
            _stream?.Dispose();
            _stream = null;
            var temporary = FilePath + ".tmp";
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                foreach (var line in lines)
                {
                    stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
                }

                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, FilePath, overwrite: true);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _gate.Dispose();
    }
}
