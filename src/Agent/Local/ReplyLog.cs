using Microsoft.Extensions.Options;

namespace Relay.Agent.Local;

/// <summary>
/// The reply ids the agent has accepted (spooled), on disk (<c>&lt;state&gt;/replies.log</c>) and bounded: a spooled
/// reply leaves the spool once the broker has it, so only this tells a re-sent reply (same reply_id, after a
/// re-attach or an agent restart) from a new one. Accepting is serialized, so two copies in flight are stored once.
/// The id's line is handed to the operating system before the reply is confirmed, but not fsynced first: it survives
/// an agent crash (the usual reason for a re-send), and the reply itself is already on disk in the spool. Should a crash
/// of the machine lose the line, a re-sent reply is spooled a second time and the broker, which stores replies by id,
/// keeps one. That saves an fsync on every reply's path.
/// </summary>
internal sealed class ReplyLog : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly JournalFile _journal;
    private readonly int _capacity;
    private int _appendedSinceRewrite;

    public ReplyLog(LocalStateDirectory state, IOptions<LocalAgentOptions> options)
    {
        _capacity = options.Value.ReplyIdMemory;
        _journal = new JournalFile(state.File("replies.log"));
        foreach (var id in _journal.ReadLines())
        {
            Remember(id);
        }

        _journal.Rewrite(_order);
    }

    /// <summary>
    /// Runs <paramref name="accept"/> (spooling the reply) unless <paramref name="replyId"/> was accepted before, then
    /// records the id. Returns true for a duplicate.
    /// </summary>
    public async ValueTask<bool> AcceptOnceAsync(string replyId, Func<CancellationToken, ValueTask> accept, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_ids.Contains(replyId))
            {
                return true;
            }

            await accept(cancellationToken);
            await _journal.AppendAsync(replyId, durable: false, cancellationToken);
            Remember(replyId);
            if (++_appendedSinceRewrite >= _capacity)
            {
                // Keep the file within twice the memory bound: rewrite it with what is remembered.
                _journal.Rewrite(_order);
                _appendedSinceRewrite = 0;
            }

            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _journal.Dispose();
        _gate.Dispose();
    }

    private void Remember(string replyId)
    {
        if (!_ids.Add(replyId))
        {
            return;
        }

        _order.Enqueue(replyId);
        while (_order.Count > _capacity)
        {
            _ids.Remove(_order.Dequeue());
        }
    }
}
