using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Relay.Bench.Prompts;

/// <summary>
/// Every prompt of one prompt-roundtrip run and what happened to it, in <see cref="Stopwatch"/> ticks: when it was
/// due on the schedule, when its SendPrompt started and returned, when its channel event reached the simulated Claude,
/// when the reply tool returned, and when the watcher saw the reply.
/// </summary>
/// <remarks>
/// The broker names each prompt itself (SendPrompt's prompt_id is only the sender's idempotency key), and a channel
/// event may arrive before SendPrompt has returned that name. So the prompt's number travels in its text and in the
/// reply's text: that is how the simulated Claude and the watcher find a prompt, and the broker's id is checked against
/// the ids they saw once the run is over. Each slot is written by one party (the sender, the simulated Claude, the
/// watcher); counters catch anything that happens twice.
/// </remarks>
internal sealed class RoundTripLedger
{
    private const int MaxProblems = 200;
    private const string TextPrefix = "relay-bench prompt #";
    private const string ReplyPrefix = "re: relay-bench prompt #";

    private readonly string[] _keys;
    private readonly int[] _notifications;
    private readonly int[] _replies;
    private readonly int[] _seen;
    private readonly ConcurrentQueue<string> _problems = new();
    private TaskCompletionSource _seenChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _seenDistinct;
    private int _problemCount;

    public RoundTripLedger(int count, int sessions, string prefix)
    {
        Count = count;
        Sessions = sessions;
        _keys = new string[count];
        for (var i = 0; i < count; i++)
        {
            _keys[i] = $"{prefix}-{i:D6}-{Guid.NewGuid():N}";
        }

        Due = new long[count];
        CallStarted = new long[count];
        Accepted = new long[count];
        Notified = new long[count];
        Replied = new long[count];
        Seen = new long[count];
        BrokerIds = new string?[count];
        NotifiedIds = new string?[count];
        ReplyInReplyTo = new string?[count];
        _notifications = new int[count];
        _replies = new int[count];
        _seen = new int[count];
    }

    /// <summary>Prompts in the run (warm-up included).</summary>
    public int Count { get; }

    /// <summary>Simulated Claude sessions; prompt i goes to session i mod this.</summary>
    public int Sessions { get; }

    public long[] Due { get; }

    public long[] CallStarted { get; }

    public long[] Accepted { get; }

    public long[] Notified { get; }

    public long[] Replied { get; }

    public long[] Seen { get; }

    /// <summary>The prompt id the broker gave each prompt (from SendPrompt's answer).</summary>
    public string?[] BrokerIds { get; }

    /// <summary>The prompt_id of each prompt's channel event.</summary>
    public string?[] NotifiedIds { get; }

    /// <summary>The in_reply_to of the reply the watcher saw for each prompt.</summary>
    public string?[] ReplyInReplyTo { get; }

    /// <summary>Prompts whose reply the watcher has seen.</summary>
    public int SeenCount => Volatile.Read(ref _seenDistinct);

    public int ProblemCount => Volatile.Read(ref _problemCount);

    /// <summary>SendPrompt's prompt_id (the sender's idempotency key) of prompt <paramref name="i"/>.</summary>
    public string Key(int i) => _keys[i];

    /// <summary>How failure messages name prompt <paramref name="i"/>: the broker's id once known, else its number.</summary>
    public string Name(int i) => Volatile.Read(ref BrokerIds[i]) ?? $"#{i}";

    public int SessionOf(int i) => i % Sessions;

    /// <summary>Prompt <paramref name="i"/>'s text.</summary>
    public static string PromptText(int i) => $"{TextPrefix}{i.ToString(CultureInfo.InvariantCulture)}: answer with the reply tool.";

    /// <summary>The reply to prompt <paramref name="i"/>, as the simulated Claude writes it.</summary>
    public static string ReplyText(int i) => ReplyPrefix + i.ToString(CultureInfo.InvariantCulture);

    /// <summary>The prompt a channel event's text is, when it is one of the run's.</summary>
    public bool TryIndexOfPrompt(string? text, out int index) => TryIndex(text, TextPrefix, ':', out index);

    /// <summary>The prompt a reply answers, when its text is one the simulated Claude wrote.</summary>
    public bool TryIndexOfReply(string? text, out int index) => TryIndex(text, ReplyPrefix, null, out index);

    /// <summary>The channel event of prompt <paramref name="i"/> reached its simulated Claude; false when it came before.</summary>
    public bool OnNotified(int i, string? promptId, long at)
    {
        var times = Interlocked.Increment(ref _notifications[i]);
        if (times != 1)
        {
            Problem($"prompt {Name(i)} reached the simulated Claude {times} times");
            return false;
        }

        Notified[i] = at;
        NotifiedIds[i] = promptId;
        return true;
    }

    public void OnReplied(int i, long at)
    {
        if (Interlocked.Increment(ref _replies[i]) == 1)
        {
            Replied[i] = at;
        }
    }

    /// <summary>The watcher saw a reply to prompt <paramref name="i"/>.</summary>
    public void OnSeen(int i, string inReplyTo, long at)
    {
        var times = Interlocked.Increment(ref _seen[i]);
        if (times != 1)
        {
            Problem($"the watcher saw {times} replies to prompt {Name(i)}");
            return;
        }

        Seen[i] = at;
        ReplyInReplyTo[i] = inReplyTo;
        Interlocked.Increment(ref _seenDistinct);
        Interlocked.Exchange(ref _seenChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Waits until the watcher has seen a reply to <paramref name="sent"/> prompts; false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitSeenAsync(int sent, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (SeenCount < sent)
        {
            var changed = Volatile.Read(ref _seenChanged).Task;
            var left = timeout - clock.Elapsed;
            if (SeenCount >= sent)
            {
                break;
            }

            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            await Task.WhenAny(changed, Task.Delay(left, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }

        return true;
    }

    public int Notifications(int i) => Volatile.Read(ref _notifications[i]);

    public int Replies(int i) => Volatile.Read(ref _replies[i]);

    public int SeenTimes(int i) => Volatile.Read(ref _seen[i]);

    /// <summary>Records something that broke the run's checks (kept bounded; the count is exact).</summary>
    public void Problem(string what)
    {
        if (Interlocked.Increment(ref _problemCount) <= MaxProblems)
        {
            _problems.Enqueue(what);
        }
    }

    public IReadOnlyList<string> Problems() => [.. _problems];

    private bool TryIndex(string? text, string prefix, char? end, out int index)
    {
        index = -1;
        if (text is null || !text.StartsWith(prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = text.AsSpan(prefix.Length);
        var stop = end is { } c ? rest.IndexOf(c) : rest.Length;
        return stop > 0
            && int.TryParse(rest[..stop], NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && index < Count;
    }
}
