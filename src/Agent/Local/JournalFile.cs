using System.Buffers;
using System.Text;

namespace Relay.Agent.Local;

/// <summary>
/// An append-only file of text lines: the local side's durable record (prompt queue, accepted reply ids, launches).
/// A durable append returns once its line is fsynced; appends that arrive while a write is in progress are written
/// and fsynced together by the appender already writing (group commit), so concurrent producers share one flush.
/// Appending never renames, so a crash leaves at worst a torn last line, which <see cref="ReadLines"/> skips.
/// <see cref="Rewrite"/> compacts it (temporary file, fsync, rename).
/// </summary>
/// <remarks>
/// No writer task and no queue in front of the file: the first appender to find nobody writing becomes the writer
/// (leader) and takes whatever the others queued meanwhile, in its own thread, so an uncontended append costs no thread
/// hop. The callers bound the queue themselves: each waits for its own line.
/// </remarks>
internal sealed class JournalFile : IDisposable
{
    /// <summary>Rounds one leader writes before it hands the rest to the thread pool, so no caller writes for ever.</summary>
    private const int LeaderRounds = 4;

    private static readonly FileStreamOptions AppendOptions = new()
    {
        Mode = FileMode.Append,
        Access = FileAccess.Write,
        Share = FileShare.Read,
        BufferSize = 0,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    };

    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Lock _lock = new();
    private readonly List<Pending> _pending = [];
    private readonly List<Pending> _batch = [];
    private readonly Action<FileStream> _flushToDisk;
    private bool _writing;
    private bool _disposed;
    private FileStream? _stream;

    /// <param name="path">The file.</param>
    /// <param name="flushToDisk">How a batch is made durable: an fsync unless a test needs to hold it.</param>
    public JournalFile(string path, Action<FileStream>? flushToDisk = null)
    {
        FilePath = path;
        _flushToDisk = flushToDisk ?? (static stream => stream.Flush(flushToDisk: true));
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
    public ValueTask AppendAsync(string line, CancellationToken cancellationToken) => AppendAsync(line, durable: true, cancellationToken);

    /// <summary>
    /// Appends one line (no '\n' inside). <paramref name="durable"/>: returns once it is on disk (fsynced); otherwise
    /// once the operating system has it: it survives the agent's crash, and reaches the disk with the next durable
    /// append, the next <see cref="Rewrite"/> or the kernel's writeback (a crash of the machine may lose it).
    /// </summary>
    public ValueTask AppendAsync(string line, bool durable, CancellationToken cancellationToken) =>
        QueueAsync(Encoding.UTF8.GetBytes(line + "\n"), durable, cancellationToken);

    /// <summary>
    /// Returns once every line appended before this call is on disk: it shares the fsync of a batch being written, or
    /// has one of its own. For a caller that acts on a line as soon as the operating system has it (a non-durable
    /// append) and needs it on disk only before it tells anyone else.
    /// </summary>
    public ValueTask SyncAsync(CancellationToken cancellationToken) => QueueAsync([], durable: true, cancellationToken);

    private async ValueTask QueueAsync(byte[] bytes, bool durable, CancellationToken cancellationToken)
    {
        var pending = new Pending(bytes, durable);
        bool lead;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _pending.Add(pending);
            lead = !_writing;
            _writing = true;
        }

        if (lead)
        {
            WriteRounds(LeaderRounds);
        }

        // Once queued, the line is written even if this caller stops waiting.
        await pending.Written.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Replaces the whole file with <paramref name="lines"/> atomically, after the appends in progress.</summary>
    public void Rewrite(IEnumerable<string> lines)
    {
        var spin = default(SpinWait);
        while (true)
        {
            lock (_lock)
            {
                // A leader may still be finishing a batch (its callers were answered before its fsync): wait for it.
                if (!_writing && _pending.Count == 0)
                {
                    // Held across the rewrite: an append that comes meanwhile waits for the new file.
                    RewriteLocked(lines);
                    return;
                }
            }

            spin.SpinOnce(sleep1Threshold: 10);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            if (!_writing)
            {
                CloseStream();
            }
        }
    }

    /// <summary>
    /// The leader's work: everything queued becomes one write and (when any of it must be durable) one fsync, as many
    /// times as lines keep coming, for at most <paramref name="rounds"/> rounds; then the thread pool takes over.
    /// </summary>
    private void WriteRounds(int rounds)
    {
        for (var round = 0; ; round++)
        {
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    _writing = false;
                    if (_disposed)
                    {
                        CloseStream();
                    }

                    return;
                }

                if (round == rounds)
                {
                    // Still writing (_writing stays true): a pool thread continues with what is queued.
                    ThreadPool.UnsafeQueueUserWorkItem(static journal => journal.WriteRounds(int.MaxValue), this, preferLocal: false);
                    return;
                }

                _batch.AddRange(_pending);
                _pending.Clear();
            }

            WriteBatch();
            _batch.Clear();
        }
    }

    private void RewriteLocked(IEnumerable<string> lines)
    {
        CloseStream();
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

    private void CloseStream()
    {
        try
        {
            _stream?.Dispose();
        }
        catch (IOException)
        {
            // Unbuffered: nothing is lost by a failing close.
        }

        _stream = null;
    }

    private void WriteBatch()
    {
        try
        {
            _stream ??= new FileStream(FilePath, AppendOptions);
            var durable = false;
            _buffer.Clear();
            foreach (var pending in _batch)
            {
                _buffer.Write(pending.Bytes);
                durable |= pending.Durable;
            }

            // One write for the batch (the stream is unbuffered).
            _stream.Write(_buffer.WrittenSpan);
            foreach (var pending in _batch.Where(p => !p.Durable))
            {
                pending.Written.TrySetResult();
            }

            if (durable)
            {
                _flushToDisk(_stream);
            }

            foreach (var pending in _batch.Where(p => p.Durable))
            {
                pending.Written.TrySetResult();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The file may now end in a part of the batch: start on a fresh handle, and let every caller know.
            CloseStream();
            foreach (var pending in _batch)
            {
                pending.Written.TrySetException(new IOException($"Could not write {FilePath}: {ex.Message}", ex));
            }
        }
    }

    private sealed class Pending(byte[] bytes, bool durable)
    {
        public byte[] Bytes { get; } = bytes;

        public bool Durable { get; } = durable;

        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
