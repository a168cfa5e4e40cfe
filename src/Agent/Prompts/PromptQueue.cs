using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Local;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Prompts;

/// <summary>
/// The agent's prompt queue (DESIGN.md §§4, 6). A PromptDelivery from the broker is on disk before it is acked; it is
/// written to the target session's channel (and re-written after every re-attach until the channel acks it), or, when
/// the session has no working channel or the ack does not come in time, handed to Claude in the answer of the
/// session's next suitable hook. Receipts (DELIVERED, SEEN, EXPIRED, FAILED) go to the spool; a hook delivery counts
/// only once its answer was written (<see cref="CommitHookAsync"/>).
/// </summary>
internal sealed partial class PromptQueue : IQueuedPromptCounter
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, QueuedPrompt> _prompts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _finished = new(StringComparer.Ordinal);
    private readonly Queue<string> _finishedOrder = new();
    private readonly HashSet<string> _adding = new(StringComparer.Ordinal);
    private readonly PromptStore _store;
    private readonly SessionTracker _tracker;
    private readonly ChannelRegistry _channels;
    private readonly IAgentSpool _spool;
    private readonly TimeProvider _time;
    private readonly LocalAgentOptions _options;
    private readonly ILogger<PromptQueue> _logger;
    private int _loaded;

    public PromptQueue(
        PromptStore store,
        SessionTracker tracker,
        ChannelRegistry channels,
        IAgentSpool spool,
        TimeProvider time,
        IOptions<LocalAgentOptions> options,
        ILogger<PromptQueue> logger)
    {
        _store = store;
        _tracker = tracker;
        _channels = channels;
        _spool = spool;
        _time = time;
        _options = options.Value;
        _logger = logger;
        tracker.QueuedPrompts = this;
    }

    /// <summary>Prompts held and not delivered yet.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _prompts.Values.Count(p => p.State == PromptState.Pending);
            }
        }
    }

    /// <summary>Reads the queue from disk (once; every entry point calls it).</summary>
    public void EnsureLoaded()
    {
        if (Interlocked.Exchange(ref _loaded, 1) == 1)
        {
            return;
        }

        var (open, finished) = _store.Load(_options.FinishedPromptMemory);
        lock (_lock)
        {
            foreach (var id in finished)
            {
                RememberFinished(id);
            }

            foreach (var prompt in open)
            {
                _prompts[prompt.Id] = prompt;
            }
        }
    }

    /// <inheritdoc />
    public uint CountFor(SessionView session)
    {
        lock (_lock)
        {
            return (uint)_prompts.Values.Count(p => p.State == PromptState.Pending && IsFor(p, session));
        }
    }

    /// <summary>
    /// Takes a prompt into the queue and writes it to its session's channel if one is attached; returns once it is on
    /// disk. False when the prompt id is known already (a retransmission): nothing happens.
    /// </summary>
    /// <remarks>
    /// The channel gets the prompt as soon as its line is in the journal file, while the fsync runs: only the broker's
    /// ack, which the caller sends after this returns, needs the disk. If the agent dies before the fsync, the broker,
    /// never acked, sends the prompt again, and a channel that had it acks it as a duplicate without showing it twice.
    /// </remarks>
    public async ValueTask<bool> EnqueueAsync(PromptDelivery delivery, string launchId, bool local, CancellationToken cancellationToken)
    {
        EnsureLoaded();
        lock (_lock)
        {
            // An id being written counts as known: two copies in flight are stored once. Several different prompts may be
            // written at once, and share the journal's fsync.
            if (_prompts.ContainsKey(delivery.PromptId) || _finished.Contains(delivery.PromptId) || !_adding.Add(delivery.PromptId))
            {
                return false;
            }
        }

        var prompt = new QueuedPrompt { Delivery = delivery, LaunchId = launchId, Local = local, ReceivedAt = _time.GetUtcNow() };
        var queued = false;
        try
        {
            await _store.WriteAsync(prompt, cancellationToken);
            lock (_lock)
            {
                _prompts[prompt.Id] = prompt;
            }

            queued = true;
            PromptLog.Queued(_logger, delivery.PromptId, delivery.SessionId, launchId);
            Dispatch();
            await _store.SyncAsync(cancellationToken);
        }
        catch when (queued)
        {
            // Not known to be on disk, so the broker is not acked and will send it again: forget it unless a channel has
            // taken it already (it is delivered then, and its receipt is spooled), so that the re-send is written anew.
            lock (_lock)
            {
                if (_prompts.TryGetValue(prompt.Id, out var held) && ReferenceEquals(held, prompt) && held.State == PromptState.Pending)
                {
                    _prompts.Remove(prompt.Id);
                }
            }

            throw;
        }
        finally
        {
            lock (_lock)
            {
                _adding.Remove(prompt.Id);
            }
        }

        return true;
    }

    /// <summary>
    /// Writes every pending prompt whose session has a working channel to that channel, unless it was written to the
    /// same channel before (a re-attached channel is a new channel id, so it gets them all again).
    /// </summary>
    public void Dispatch()
    {
        EnsureLoaded();
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            foreach (var prompt in _prompts.Values.Where(p => p.State == PromptState.Pending).OrderBy(p => p.ReceivedAt))
            {
                var session = Target(prompt);
                if (session is not { ChannelCapable: true, ChannelId: { } channelId } || prompt.SentToChannelId == channelId
                    || prompt.IsExpired(now))
                {
                    continue;
                }

                if (_channels.Get(channelId) is { } channel && channel.TrySend(new AgentToChannelMessage { Prompt = prompt.Delivery }))
                {
                    prompt.SentToChannelId = channelId;
                    prompt.SentAt = now;
                }
            }
        }
    }

    /// <summary>
    /// The channel wrote the prompt to Claude: DELIVERED via CHANNEL (a repeat of a delivered prompt changes nothing).
    /// Before this returns, the prompt is marked delivered and its receipt is queued for the spool; the task returned
    /// completes once the receipt and then the journal's "done" line are on disk. The channel's reader need not wait
    /// for it: a reply right behind the ack joins the receipt's group commit instead of waiting for two fsyncs.
    /// </summary>
    public Task AcknowledgeAsync(ChannelConnection channel, PromptAck ack, CancellationToken cancellationToken)
    {
        EnsureLoaded();
        QueuedPrompt? prompt;
        SessionView? session;
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (!_prompts.TryGetValue(ack.PromptId, out prompt) || prompt.State != PromptState.Pending)
            {
                return Task.CompletedTask;
            }

            session = _tracker.Get(channel.SessionId);
            prompt.State = PromptState.Delivered;
            prompt.DeliveredToSession = channel.SessionId;
            prompt.DeliveredAt = ack.WrittenAt?.ToDateTimeOffset() ?? now;
        }

        // Called before anything is awaited: the spool takes the receipt into its queue now, in the channel's order.
        var receipt = ReceiptAsync(prompt, PromptStatus.Delivered, DeliveryPath.Channel, string.Empty, session?.Evidence(), string.Empty, cancellationToken);
        return FinishDeliveryAsync(receipt, prompt.Id, cancellationToken);
    }

    private async Task FinishDeliveryAsync(ValueTask receipt, string promptId, CancellationToken cancellationToken)
    {
        await receipt;
        await FinishAfterReceiptAsync(promptId, cancellationToken);
        PromptLog.Delivered(_logger, promptId, "channel", string.Empty);
    }

    /// <summary>The journal's "done" line for a prompt whose receipt is in the spool: always after the receipt.</summary>
    private async ValueTask FinishAfterReceiptAsync(string promptId, CancellationToken cancellationToken)
    {
        // The spool resumes a producer alone in its batch on its writer's thread, and the journal writes and fsyncs on
        // its caller's thread: here, that would hold the spool's writer for a second flush. The receipt would reach the
        // broker only after it, and what is spooled right behind it (the reply Claude sends at once, the next hook) would
        // wait for it too.
        await Task.Yield();
        await _store.FinishAsync(promptId, cancellationToken);
    }

    /// <summary>Expires what passed its expiry time; forgets delivered prompts nobody reported seen within a day.</summary>
    public async ValueTask TickAsync(CancellationToken cancellationToken)
    {
        EnsureLoaded();
        var now = _time.GetUtcNow();
        List<QueuedPrompt> expired;
        lock (_lock)
        {
            expired = _prompts.Values.Where(p => p.State == PromptState.Pending && p.IsExpired(now) && p.ReservedUntil <= now).ToList();
            foreach (var prompt in expired)
            {
                prompt.State = PromptState.Finished;
            }

            foreach (var stale in _prompts.Values.Where(p => p.State == PromptState.Delivered && now - p.DeliveredAt > TimeSpan.FromDays(1)).ToList())
            {
                Finish(stale);
            }
        }

        foreach (var prompt in expired)
        {
            await FailAsync(prompt, PromptStatus.Expired, "Not delivered before its expiry time.", cancellationToken);
        }
    }

    /// <summary>A launch failed: its initial prompt can never be delivered.</summary>
    public async ValueTask FailLaunchAsync(string launchId, string reason, CancellationToken cancellationToken)
    {
        EnsureLoaded();
        List<QueuedPrompt> failed;
        lock (_lock)
        {
            failed = _prompts.Values.Where(p => p.State == PromptState.Pending && p.LaunchId == launchId).ToList();
            foreach (var prompt in failed)
            {
                prompt.State = PromptState.Finished;
            }
        }

        foreach (var prompt in failed)
        {
            await FailAsync(prompt, PromptStatus.Failed, reason, cancellationToken);
        }
    }

    private async ValueTask FailAsync(QueuedPrompt prompt, PromptStatus status, string reason, CancellationToken cancellationToken)
    {
        await ReceiptAsync(prompt, status, DeliveryPath.Unspecified, string.Empty, Target(prompt)?.Evidence(), reason, cancellationToken);
        await FinishAfterReceiptAsync(prompt.Id, cancellationToken);
        lock (_lock)
        {
            Finish(prompt);
        }

        PromptLog.Failed(_logger, prompt.Id, status, reason);
    }

    private async ValueTask ReceiptAsync(
        QueuedPrompt prompt, PromptStatus status, DeliveryPath path, string hookEventName, SessionEvidence? session, string reason, CancellationToken cancellationToken)
    {
        if (prompt.Local)
        {
            return;
        }

        var receipt = new PromptReceipt
        {
            PromptId = prompt.Id,
            Status = status,
            DeliveryPath = path,
            HookEventName = hookEventName,
            Session = session ?? new SessionEvidence { SessionId = prompt.Delivery.SessionId, ClaudeSessionId = prompt.Delivery.ClaudeSessionId, LaunchId = prompt.LaunchId },
            At = Timestamp.FromDateTimeOffset(_time.GetUtcNow()),
            Reason = reason,
        };
        await _spool.AppendAsync(new AgentMessage { PromptReceipt = receipt }, cancellationToken);
    }

    /// <summary>The session a prompt is for, when the agent knows it. Caller holds no lock of the tracker.</summary>
    private SessionView? Target(QueuedPrompt prompt) =>
        _tracker.FindAddressed(prompt.Delivery.SessionId, prompt.Delivery.ClaudeSessionId, prompt.LaunchId);

    private static bool IsFor(QueuedPrompt prompt, SessionView session) =>
        session.IsAddressedBy(prompt.Delivery.SessionId, prompt.Delivery.ClaudeSessionId, prompt.LaunchId);

    private void Finish(QueuedPrompt prompt)
    {
        prompt.State = PromptState.Finished;
        _prompts.Remove(prompt.Id);
        RememberFinished(prompt.Id);
    }

    private void RememberFinished(string promptId)
    {
        if (_finished.Add(promptId))
        {
            _finishedOrder.Enqueue(promptId);
            while (_finishedOrder.Count > _options.FinishedPromptMemory)
            {
                _finished.Remove(_finishedOrder.Dequeue());
            }
        }
    }
}
