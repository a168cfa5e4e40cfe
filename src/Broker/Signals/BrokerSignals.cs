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
internal sealed class BrokerSignals
{
    private readonly ConcurrentDictionary<string, Topic> _topics = new(StringComparer.Ordinal);

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

    /// <summary>The current version of <paramref name="topic"/>; read it before querying, then wait on it.</summary>
    public long Version(string topic) => _topics.TryGetValue(topic, out var t) ? Volatile.Read(ref t.Version) : 0;

    /// <summary>Marks <paramref name="topic"/> changed and wakes its waiters.</summary>
    public void Publish(string topic)
    {
        var t = _topics.GetOrAdd(topic, static _ => new Topic());
        TaskCompletionSource previous;
        lock (t)
        {
            t.Version++;
            previous = t.Changed;
            t.Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }

    /// <summary>Completes when <paramref name="topic"/>'s version is past <paramref name="seenVersion"/>; returns the new version.</summary>
    public async Task<long> WaitAsync(string topic, long seenVersion, CancellationToken cancellationToken)
    {
        var t = _topics.GetOrAdd(topic, static _ => new Topic());
        while (true)
        {
            Task changed;
            lock (t)
            {
                if (t.Version > seenVersion)
                {
                    return t.Version;
                }

                changed = t.Changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed class Topic
    {
        public long Version;
        public TaskCompletionSource Changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
