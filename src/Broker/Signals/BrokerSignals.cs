using System.Collections.Concurrent;

namespace Relay.Broker.Signals;

/// <summary>
/// In-process change notifications between the broker's features. PostgreSQL holds the truth; a signal
/// only says "look again". Each topic has a version that only grows, so a waiter that read version N
/// never misses a change that happened between its read and its wait.
/// Topics in use: <see cref="Events"/>, <see cref="MachineOutbound"/>, <see cref="Prompt"/>, <see cref="Approval"/>,
/// <see cref="Launch"/>, <see cref="Machine"/>.
/// Replicas will relay the same topics through PostgreSQL LISTEN/NOTIFY (DESIGN.md §9).
/// </summary>
/// <remarks>
/// Most topics name one prompt, approval or launch, so a broker that kept every topic it ever saw would grow without
/// bound (about 300 bytes per prompt). A topic nobody waits on is forgotten once <see cref="ForgetAfterPublishes"/>
/// publishes of any topic have passed since it was last published (or made). The promise above still holds: a topic
/// starts (again) at the number of publishes of all topics so far, which is at least any version it had before it was
/// forgotten, and each publish adds one. So a waiter that read a version before the topic was forgotten wakes at its
/// next publish, never later. At worst, a waiter whose topic was forgotten between its read and its wait wakes once
/// without a change, which every waiter already allows (a signal only says "look again").
/// </remarks>
internal sealed class BrokerSignals
{
    /// <summary>How many publishes (of any topic) a topic with no waiters outlives its own last publish.</summary>
    internal const long ForgetAfterPublishes = 4096;

    private readonly ConcurrentDictionary<string, Topic> _topics = new(StringComparer.Ordinal);
    private long _published;
    private long _nextSweep = ForgetAfterPublishes;
    private int _sweeping;

    /// <summary>New rows were committed to the events table (watch and history readers look again).</summary>
    public const string Events = "events";

    /// <summary>Outbound work (prompts, verdicts, launches, stops) was queued for a machine.</summary>
    public static string MachineOutbound(string machineId) => "machine-outbound:" + machineId;

    /// <summary>A prompt's status changed.</summary>
    public static string Prompt(string promptId) => "prompt:" + promptId;

    /// <summary>An approval was created or decided.</summary>
    public static string Approval(string approvalId) => "approval:" + approvalId;

    /// <summary>A launch's status changed.</summary>
    public static string Launch(string launchId) => "launch:" + launchId;

    /// <summary>A machine connected, disconnected or was revoked.</summary>
    public static string Machine(string machineId) => "machine:" + machineId;

    /// <summary>Topics remembered now (for tests).</summary>
    internal int TopicCount => _topics.Count;

    /// <summary>Whether <paramref name="topic"/> is remembered now (for tests).</summary>
    internal bool Remembers(string topic) => _topics.ContainsKey(topic);

    /// <summary>The current version of <paramref name="topic"/>; read it before querying, then wait on it.</summary>
    public long Version(string topic)
    {
        var t = Find(topic);
        return Volatile.Read(ref t.Version);
    }

    /// <summary>Marks <paramref name="topic"/> changed and wakes its waiters.</summary>
    public void Publish(string topic)
    {
        TaskCompletionSource? waiting;
        long published;
        while (true)
        {
            var t = Find(topic);
            lock (t)
            {
                if (t.Forgotten)
                {
                    continue; // removed under this lock just now: the next look makes a new one
                }

                // Counted before the topic's version moves, so no topic's version is ever above the count.
                published = Interlocked.Increment(ref _published);
                t.Version++;
                t.Touched = published;
                waiting = t.Changed;
                t.Changed = null;
                break;
            }
        }

        waiting?.TrySetResult();
        if (published >= Volatile.Read(ref _nextSweep))
        {
            Sweep(published);
        }
    }

    /// <summary>Completes when <paramref name="topic"/>'s version is past <paramref name="seenVersion"/>; returns the new version.</summary>
    public async Task<long> WaitAsync(string topic, long seenVersion, CancellationToken cancellationToken)
    {
        while (true)
        {
            var t = Find(topic);
            Task changed;
            lock (t)
            {
                if (t.Forgotten)
                {
                    continue;
                }

                if (t.Version > seenVersion)
                {
                    return t.Version;
                }

                // Made by the first waiter, so a publish nobody waits for allocates nothing.
                t.Changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed = t.Changed.Task;
                t.Waiters++;
            }

            try
            {
                await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                lock (t)
                {
                    t.Waiters--;
                }
            }
        }
    }

    /// <summary>Forgets the topics nobody waits on that were last published or made <see cref="ForgetAfterPublishes"/> ago.</summary>
    private void Sweep(long now)
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            Volatile.Write(ref _nextSweep, now + ForgetAfterPublishes);
            foreach (var (name, t) in _topics)
            {
                lock (t)
                {
                    if (t.Waiters == 0 && now - t.Touched >= ForgetAfterPublishes)
                    {
                        // Under the lock: a publisher or waiter that already holds this object sees it is gone.
                        t.Forgotten = true;
                        _topics.TryRemove(new KeyValuePair<string, Topic>(name, t));
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    /// <summary>The topic, made when missing: its version starts at the count of publishes so far.</summary>
    private Topic Find(string topic) =>
        _topics.GetOrAdd(topic, static (_, signals) => new Topic(Interlocked.Read(ref signals._published)), this);

    private sealed class Topic(long published)
    {
        public long Version = published;
        public long Touched = published;
        public TaskCompletionSource? Changed;
        public int Waiters;
        public bool Forgotten;
    }
}
