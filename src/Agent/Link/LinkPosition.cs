using System.Text.Json;
using System.Text.Json.Serialization;
using Relay.Agent.Spool;

namespace Relay.Agent.Link;

/// <summary>
/// The agent's resume position in the broker's sequence (<c>link-position.json</c> in the state directory): the
/// broker epoch of the last Welcome and the highest broker seq whose effect is on disk. Written (atomically, fsynced)
/// before each Ack, read into the next Hello.
/// </summary>
internal sealed record LinkPosition
{
    public const string FileName = "link-position.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    [JsonPropertyName("broker_epoch")]
    public string BrokerEpoch { get; init; } = string.Empty;

    [JsonPropertyName("last_broker_seq")]
    public ulong LastBrokerSeq { get; init; }

    /// <summary>The stored position; none (position 0, no epoch) when the file is missing or unreadable.</summary>
    public static LinkPosition Load(string directory)
    {
        try
        {
            var path = Path.Combine(directory, FileName);
            return File.Exists(path) ? JsonSerializer.Deserialize<LinkPosition>(File.ReadAllText(path), Json) ?? new LinkPosition() : new LinkPosition();
        }
        catch (JsonException)
        {
            // Position 0 is always safe: the broker resends what it still holds and the local side drops ids it has seen.
            return new LinkPosition();
        }
    }

    public void Save(string directory)
    {
        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            JsonSerializer.Serialize(stream, this, Json);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        DirectorySync.Flush(directory);
    }
}
