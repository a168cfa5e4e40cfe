using System.Text.Json;
using System.Text.Json.Serialization;

namespace Relay.Agent.Local;

/// <summary>
/// Launch and stop requests on disk (<c>&lt;state&gt;/launches.log</c>): a request is recorded before the broker's
/// message is acked and marked done once its result is spooled, so a retransmitted request is recognised and one
/// interrupted by an agent restart is reported failed instead of lost.
/// </summary>
internal sealed class LaunchJournal : IDisposable
{
    private const int Memory = 10_000;

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    private readonly JournalFile _journal;

    public LaunchJournal(LocalStateDirectory state)
    {
        _journal = new JournalFile(state.File("launches.log"));
    }

    /// <summary>The ids seen (oldest first, bounded) and the requests that never finished; compacts the file.</summary>
    public (List<string> Known, List<Entry> Unfinished) Load()
    {
        var known = new List<string>();
        var open = new Dictionary<string, Entry>(StringComparer.Ordinal);
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

            if (entry?.Key is not { } key)
            {
                continue;
            }

            if (entry.Request is not null)
            {
                known.Add(key);
                open[key] = entry;
            }
            else
            {
                open.Remove(key);
            }
        }

        if (known.Count > Memory)
        {
            known.RemoveRange(0, known.Count - Memory);
        }

        // Unfinished ones are reported (and marked done) by the caller; only the ids need to stay (an empty request).
        _journal.Rewrite(known.Select(k => JsonSerializer.Serialize(new Entry { Key = k, Request = string.Empty }, Json)));
        return (known, open.Values.Where(e => e.Request!.Length > 0).ToList());
    }

    public ValueTask RecordAsync(string key, byte[] request, CancellationToken cancellationToken) =>
        _journal.AppendAsync(JsonSerializer.Serialize(new Entry { Key = key, Request = Convert.ToBase64String(request) }, Json), cancellationToken);

    public ValueTask DoneAsync(string key, CancellationToken cancellationToken) =>
        _journal.AppendAsync(JsonSerializer.Serialize(new Entry { Key = key }, Json), cancellationToken);

    public void Dispose() => _journal.Dispose();

    /// <summary>One line: a request (with its bytes) or, without them, its completion.</summary>
    internal sealed class Entry
    {
        /// <summary><c>launch:&lt;launch_id&gt;</c> or <c>stop:&lt;stop_id&gt;</c>.</summary>
        [JsonPropertyName("key")]
        public string? Key { get; set; }

        [JsonPropertyName("request")]
        public string? Request { get; set; }
    }
}
