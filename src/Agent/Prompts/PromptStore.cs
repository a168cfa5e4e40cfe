using System.Text.Json;
using System.Text.Json.Serialization;
using Relay.Agent.Local;
using Relay.Protocol.V1;

namespace Relay.Agent.Prompts;

/// <summary>
/// The prompt queue on disk: <c>&lt;state&gt;/prompts.log</c>, one JSON line per change, fsynced before the change
/// counts (a PromptDelivery is acked to the broker only after its line is on disk). Replayed and compacted at start.
/// </summary>
/// <remarks>
/// A new prompt's line is written first and fsynced after (<see cref="WriteAsync"/>, then <see cref="SyncAsync"/>), so
/// that the prompt can go to Claude while the disk catches up: only the broker's ack has to wait for the fsync.
/// </remarks>
internal sealed class PromptStore : IDisposable
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingDefault };

    private readonly JournalFile _journal;

    public PromptStore(LocalStateDirectory state)
        : this(state, flushToDisk: null)
    {
    }

    /// <param name="state">The agent's state directory.</param>
    /// <param name="flushToDisk">How the journal is made durable: an fsync unless a test needs to hold it.</param>
    internal PromptStore(LocalStateDirectory state, Action<FileStream>? flushToDisk)
    {
        _journal = new JournalFile(state.File("prompts.log"), flushToDisk);
    }

    /// <summary>Prompts still to deliver and the ids of finished ones (newest last), compacting the file.</summary>
    public (List<QueuedPrompt> Open, List<string> Finished) Load(int finishedMemory)
    {
        var open = new Dictionary<string, QueuedPrompt>(StringComparer.Ordinal);
        var finished = new List<string>();
        foreach (var line in _journal.ReadLines())
        {
            Entry? entry;
            try
            {
                entry = JsonSerializer.Deserialize<Entry>(line, Json);
            }
            catch (JsonException)
            {
                continue;
            }

            switch (entry)
            {
                case { Op: "add", Delivery: { } bytes }:
                    var delivery = PromptDelivery.Parser.ParseFrom(Convert.FromBase64String(bytes));
                    open[delivery.PromptId] = new QueuedPrompt
                    {
                        Delivery = delivery,
                        LaunchId = entry.Launch ?? string.Empty,
                        Local = entry.Local,
                        ReceivedAt = entry.At,
                    };
                    break;
                case { Op: "done", Id: { } id }:
                    // Delivered prompts count as done after a restart: the evidence for SEEN is gone with the old sessions.
                    open.Remove(id);
                    finished.Add(id);
                    break;
            }
        }

        if (finished.Count > finishedMemory)
        {
            finished.RemoveRange(0, finished.Count - finishedMemory);
        }

        _journal.Rewrite(finished.Select(Done).Concat(open.Values.Select(Add)));
        return (open.Values.ToList(), finished);
    }

    /// <summary>
    /// Writes a new prompt's line; returns once the operating system has it (it survives the agent's crash), not the
    /// disk: <see cref="SyncAsync"/> before acking it to anyone.
    /// </summary>
    public ValueTask WriteAsync(QueuedPrompt prompt, CancellationToken cancellationToken) =>
        _journal.AppendAsync(Add(prompt), durable: false, cancellationToken);

    /// <summary>Returns once every line written before is on disk.</summary>
    public ValueTask SyncAsync(CancellationToken cancellationToken) => _journal.SyncAsync(cancellationToken);

    /// <summary>Records that the prompt left the queue (delivered, expired or failed).</summary>
    public ValueTask FinishAsync(string promptId, CancellationToken cancellationToken) =>
        _journal.AppendAsync(Done(promptId), cancellationToken);

    public void Dispose() => _journal.Dispose();

    private static string Add(QueuedPrompt prompt) => JsonSerializer.Serialize(new Entry
    {
        Op = "add",
        Id = prompt.Id,
        Delivery = Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(prompt.Delivery)),
        Launch = prompt.LaunchId.Length > 0 ? prompt.LaunchId : null,
        Local = prompt.Local,
        At = prompt.ReceivedAt,
    }, Json);

    private static string Done(string promptId) => JsonSerializer.Serialize(new Entry { Op = "done", Id = promptId }, Json);

    private sealed class Entry
    {
        [JsonPropertyName("op")]
        public string? Op { get; set; }

        [JsonPropertyName("id")]
        public string? Id { get; set; }

        [JsonPropertyName("delivery")]
        public string? Delivery { get; set; }

        [JsonPropertyName("launch")]
        public string? Launch { get; set; }

        [JsonPropertyName("local")]
        public bool Local { get; set; }

        [JsonPropertyName("at")]
        public DateTimeOffset At { get; set; }
    }
}
