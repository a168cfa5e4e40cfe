using System.Buffers.Binary;
using System.Text;

namespace Relay.Agent.Spool;

/// <summary>
/// <c>spool.ack</c>: the broker's acknowledged position, written in place on every Ack without an fsync. One 512-byte
/// sector: <c>"RLYACK01"</c>, the acknowledged seq, the dropped-and-acknowledged count, the epoch (length-prefixed) and a
/// CRC-32C of everything before it.
/// </summary>
/// <remarks>
/// <para>
/// Why not <see cref="SpoolMeta"/> on every Ack: replacing it is a new file, an fsync, a rename and an fsync of the
/// directory, about a third of the agent's CPU per hook in <c>relay-bench --only hook-http</c> (the broker acks every
/// hook at a person's pace), and its flushes queue on the disk in front of the next hook's fdatasync.
/// </para>
/// <para>
/// Why no fsync: the position only has to be durable before the records it covers leave the disk, and they leave only
/// by deleting a whole segment, before which the spool saves <see cref="SpoolMeta"/> (atomically, fsynced) with the
/// position. So this write is for the page cache: after <c>kill -9</c> of the agent it is read back exactly; after a
/// machine crash it may be older than the last Ack or unreadable (a torn sector, a failed CRC), and recovery then uses
/// <see cref="SpoolMeta.AckedSeq"/>, which covers every deleted segment. Records acknowledged after that are sent
/// again and the broker ignores seqs at or below its position (agent_link.proto, ACKNOWLEDGEMENT); its Welcome's
/// <c>last_agent_seq</c> acknowledges them at once. Nothing is lost either way.
/// </para>
/// </remarks>
internal sealed class SpoolAckFile : IDisposable
{
    public const string FileName = "spool.ack";

    private const int Sector = 512;

    private static ReadOnlySpan<byte> Magic => "RLYACK01"u8;

    private readonly FileStream _file;
    private readonly byte[] _buffer = new byte[Sector];

    private SpoolAckFile(FileStream file) => _file = file;

    /// <summary>What the file held when it was opened (null when missing, torn or of another format).</summary>
    public (string Epoch, ulong AckedSeq, ulong DroppedAcked)? Stored { get; private init; }

    /// <summary>Opens (creating when missing) the file in <paramref name="directory"/> and reads what it holds.</summary>
    public static SpoolAckFile Open(string directory)
    {
        var file = new FileStream(Path.Combine(directory, FileName), new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        try
        {
            var sector = new byte[Sector];
            var read = RandomAccess.Read(file.SafeFileHandle, sector, 0);
            return new SpoolAckFile(file) { Stored = read == Sector ? Decode(sector) : null };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Overwrites the position (page cache only; see the remarks). Callers serialize their calls.</summary>
    public void Write(string epoch, ulong ackedSeq, ulong droppedAcked)
    {
        Encode(_buffer, epoch, ackedSeq, droppedAcked);
        RandomAccess.Write(_file.SafeFileHandle, _buffer, 0);
    }

    /// <summary>Flushes what was written (a graceful stop, so that the next start finds the exact position after a power loss too).</summary>
    public void Flush() => FileSync.FlushData(_file.SafeFileHandle);

    public void Dispose() => _file.Dispose();

    /// <summary>Encodes a position into one sector.</summary>
    internal static void Encode(Span<byte> sector, string epoch, ulong ackedSeq, ulong droppedAcked)
    {
        sector.Clear();
        Magic.CopyTo(sector);
        BinaryPrimitives.WriteUInt64LittleEndian(sector[8..], ackedSeq);
        BinaryPrimitives.WriteUInt64LittleEndian(sector[16..], droppedAcked);
        var epochLength = Encoding.UTF8.GetBytes(epoch, sector[26..(Sector - 4)]);
        BinaryPrimitives.WriteUInt16LittleEndian(sector[24..], (ushort)epochLength);
        BinaryPrimitives.WriteUInt32LittleEndian(sector[(Sector - 4)..], Crc32C.Compute(sector[..(Sector - 4)]));
    }

    /// <summary>Decodes a sector; null when it is not a whole, intact position.</summary>
    internal static (string Epoch, ulong AckedSeq, ulong DroppedAcked)? Decode(ReadOnlySpan<byte> sector)
    {
        if (sector.Length != Sector || !sector.StartsWith(Magic)
            || BinaryPrimitives.ReadUInt32LittleEndian(sector[(Sector - 4)..]) != Crc32C.Compute(sector[..(Sector - 4)]))
        {
            return null;
        }

        var epochLength = BinaryPrimitives.ReadUInt16LittleEndian(sector[24..]);
        if (epochLength == 0 || 26 + epochLength > Sector - 4)
        {
            return null;
        }

        return (Encoding.UTF8.GetString(sector.Slice(26, epochLength)),
            BinaryPrimitives.ReadUInt64LittleEndian(sector[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(sector[16..]));
    }
}
