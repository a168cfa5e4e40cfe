using System.Text.Json;
using System.Text.Json.Serialization;
using Relay.Agent.Spool;

namespace Relay.Agent.Link;

/// <summary>
/// The agent's resume position in the broker's sequence (<c>link-position.json</c> in the state directory): the
/// broker epoch of the last Welcome and the highest broker seq whose effect is on disk. Written before each Ack (see
/// <see cref="Save"/>), read into the next Hello.
/// </summary>
internal sealed record LinkPosition
{
    public const string FileName = "link-position.json";

    private const int Sector = 512;

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

    /// <summary>
    /// Saves the position (before every Ack). Usually an overwrite in place: the JSON, padded with spaces to one 512-byte
    /// sector, written at offset 0 of the existing file of that size, without an fsync. Anything else (the first save, a
    /// file of another size, a position longer than a sector) replaces the file atomically: temporary file, fsync,
    /// rename, fsync of the directory.
    /// </summary>
    /// <remarks>
    /// <para>Why no fsync in place: the position is a hint for the broker's resend, not a record of anything. What a
    /// message did is on disk before its seq is saved here (a prompt or a launch in its journal), so the file on disk is
    /// never ahead of the effects. After a crash of the machine it may be behind them: the Hello then names an older
    /// position, the broker resends what it still holds above it (nothing it deleted on an Ack), and the local side drops
    /// the ids it has seen. That is the path every reconnect already takes. An fsync here was one more flush per prompt
    /// delivery, on the thread that acks it, queued on the disk with the journal's and the spool's.</para>
    /// <para>A single-sector write is not torn by a crash, which is what PostgreSQL relies on for pg_control; should it
    /// be anyway, the file reads as position 0, which is always safe (see <see cref="Load"/>).</para>
    /// </remarks>
    public void Save(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var bytes = Padded(JsonSerializer.SerializeToUtf8Bytes(this, Json));
        try
        {
            using var existing = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Write, BufferSize = 0 });
            if (bytes.Length == Sector && existing.Length == Sector)
            {
                existing.Write(bytes);
                return;
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // The first save: created below.
        }

        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        DirectorySync.Flush(directory);
    }

    private static byte[] Padded(byte[] json)
    {
        var padded = new byte[((json.Length + 1 + Sector - 1) / Sector) * Sector];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length, padded.Length - json.Length - 1).Fill((byte)' ');
        padded[^1] = (byte)'\n';
        return padded;
    }
}
