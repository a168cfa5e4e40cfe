using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>
/// An in-memory <see cref="IAgentSpool"/> that records every append. <see cref="BeforeAppend"/> makes it slow or failing;
/// <see cref="FsyncFile"/> makes every append write and fsync a file (a stand-in for the real DiskSpool's cost).
/// </summary>
internal sealed class FakeSpool : IAgentSpool, IDisposable
{
    private readonly List<AgentMessage> _messages = [];
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _fileLock = new(1, 1);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private FileStream? _file;
    private ulong _nextSeq = 1;

    /// <summary>Runs before each append; throw to fail it, await to delay it.</summary>
    public Func<AgentMessage, CancellationToken, Task>? BeforeAppend { get; set; }

    /// <summary>When set, every append is written to this file and fsync'ed before it returns.</summary>
    public string? FsyncFile { get; init; }

    public string Epoch => "fake";

    public ulong NextSeq
    {
        get
        {
            lock (_lock)
            {
                return _nextSeq;
            }
        }
    }

    public SpoolStats Stats => new();

    public IReadOnlyList<AgentMessage> Messages
    {
        get
        {
            lock (_lock)
            {
                return _messages.ToList();
            }
        }
    }

    public IReadOnlyList<HookEvent> HookEvents => Messages.Where(m => m.HookEvent is not null).Select(m => m.HookEvent).ToList();

    public ValueTask<ulong> AppendAsync(Func<AgentMessage> compose, CancellationToken cancellationToken) => AppendAsync(compose(), cancellationToken);

    public async ValueTask<ulong> AppendAsync(AgentMessage message, CancellationToken cancellationToken)
    {
        if (BeforeAppend is { } before)
        {
            await before(message, cancellationToken);
        }

        if (FsyncFile is { } path)
        {
            await _fileLock.WaitAsync(cancellationToken);
            try
            {
                _file ??= new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
                var bytes = Google.Protobuf.MessageExtensions.ToByteArray(message);
                await _file.WriteAsync(bytes, cancellationToken);
                _file.Flush(flushToDisk: true);
            }
            finally
            {
                _fileLock.Release();
            }
        }

        TaskCompletionSource changed;
        ulong seq;
        lock (_lock)
        {
            seq = _nextSeq++;
            message.Seq = seq;
            _messages.Add(message);
            changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
        return seq;
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the hook events spooled so far.</summary>
    public async Task WaitForHookEventsAsync(Func<IReadOnlyList<HookEvent>, bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                changed = _changed.Task;
            }

            if (condition(HookEvents))
            {
                return;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    public IReadOnlyList<AgentMessage> ReadAfter(ulong afterSeq, int max) => Messages.Where(m => m.Seq > afterSeq).Take(max).ToList();

    public ValueTask WaitForMessagesAfterAsync(ulong afterSeq, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask AcknowledgeAsync(ulong seq, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public void Dispose()
    {
        _file?.Dispose();
        _fileLock.Dispose();
    }
}
