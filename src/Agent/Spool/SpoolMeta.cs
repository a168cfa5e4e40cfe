using System.Text.Json;
using System.Text.Json.Serialization;

namespace Relay.Agent.Spool;

/// <summary>
/// <c>spool.meta</c>: the spool's epoch and how far the broker has acknowledged it. Replaced atomically (temporary
/// file, fsync, rename, directory fsync), so a crash leaves either the old or the new one.
/// </summary>
internal sealed record SpoolMeta
{
    public const string FileName = "spool.meta";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    [JsonPropertyName("epoch")]
    public required string Epoch { get; init; }

    /// <summary>Every item with a seq up to this one is acknowledged by the broker.</summary>
    [JsonPropertyName("acked_seq")]
    public ulong AckedSeq { get; init; }

    /// <summary>Items dropped (spool full) whose EventsDropped record is acknowledged, so no longer on disk.</summary>
    [JsonPropertyName("dropped_acked")]
    public ulong DroppedAcked { get; init; }

    public static SpoolMeta? Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var meta = JsonSerializer.Deserialize<SpoolMeta>(File.ReadAllText(path), Json);
            return meta is { Epoch.Length: > 0 } ? meta : throw new InvalidDataException("no epoch");
        }
        catch (Exception ex) when (ex is JsonException or InvalidDataException)
        {
            throw new IOException($"{path} is damaged ({ex.Message}). Move the spool directory aside to start a new spool (its unsent items are then lost).", ex);
        }
    }

    public void Save(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using (var stream = new FileStream(temporary, options))
        {
            JsonSerializer.Serialize(stream, this, Json);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        DirectorySync.Flush(directory);
    }
}
