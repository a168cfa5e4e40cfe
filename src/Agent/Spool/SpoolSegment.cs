using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Relay.Agent.Spool;

/// <summary>
/// One append-only segment file, <c>&lt;first seq, 20 digits&gt;.seg</c>: a header (magic, format version, spool epoch) and
/// records. A record is <c>[u32 body length][u32 CRC-32C of the body][body]</c>, the body being
/// <c>[i64 spooled-at, Unix ms][serialized AgentMessage]</c>, little-endian. Only the spool's writer appends; reads use
/// positional I/O and may run beside it.
/// <para>
/// A new segment is preallocated: written full of zeros up to the segment size and fsynced once, so that a durable
/// append is a write into blocks the file already owns and an fdatasync with no metadata to commit (about 0.1 ms here,
/// where an fsync of a growing file commits the file system's journal each time). The records end where a header reads
/// zero: a zero length is never a record's (its body holds at least the spooled-at prefix), so the zero tail is not
/// mistaken for a torn record, and bytes after it that are not zero are cut on recovery.
/// </para>
/// </summary>
internal sealed class SpoolSegment : IDisposable
{
    public const string Extension = ".seg";

    /// <summary>A segment prepared ahead (header and zeros, fsynced) that has no records and no name yet.</summary>
    public const string SpareExtension = ".spare";
    public const int RecordHeaderBytes = 8;
    public const int BodyPrefixBytes = 8;

    /// <summary>Preallocation stops here even for larger segments: zero-filling is paid once per segment, on the writer.</summary>
    public const long MaxPreallocateBytes = 64L * 1024 * 1024;

    private const int ZeroChunkBytes = 64 * 1024;

    private static readonly byte[] Zeros = new byte[ZeroChunkBytes];

    private static ReadOnlySpan<byte> Magic => "RLYSPL01"u8;

    private readonly FileStream _file;

    private SpoolSegment(string path, ulong firstSeq, FileStream file, long length, long headerLength)
    {
        FilePath = path;
        FirstSeq = firstSeq;
        _file = file;
        Length = length;
        HeaderLength = headerLength;
    }

    public string FilePath { get; private set; }

    public ulong FirstSeq { get; private set; }

    /// <summary>Bytes of the file that hold the header and whole, durable records.</summary>
    public long Length { get; private set; }

    public long HeaderLength { get; }

    /// <summary>Records in this segment that are neither acknowledged nor dropped (kept by the spool, under its lock).</summary>
    public int Live { get; set; }

    /// <summary>The writer is appending records the index does not count yet (kept by the spool, under its lock).</summary>
    public bool Busy { get; set; }

    public static string NameFor(ulong firstSeq) => firstSeq.ToString("D20", CultureInfo.InvariantCulture) + Extension;

    /// <summary>
    /// Creates a segment whose first record will have <paramref name="firstSeq"/>, preallocated to
    /// <paramref name="preallocateBytes"/> (see <see cref="Preallocate"/>); durable (file and directory) on return.
    /// </summary>
    public static SpoolSegment Create(string directory, ulong firstSeq, string epoch, long preallocateBytes)
    {
        var segment = CreateFile(Path.Combine(directory, NameFor(firstSeq)), firstSeq, epoch, preallocateBytes);
        try
        {
            DirectorySync.Flush(directory);
            return segment;
        }
        catch
        {
            segment.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Prepares a spare segment (header and preallocated zeros, fsynced) under a name recovery deletes; <see cref="Publish"/>
    /// gives it its first seq. The zero-fill (tens of ms, more on a busy disk) is then not paid by the hook that fills a segment.
    /// </summary>
    public static SpoolSegment CreateSpare(string directory, string epoch, long preallocateBytes)
    {
        var path = Path.Combine(directory, "next" + SpareExtension);
        File.Delete(path);
        return CreateFile(path, 0, epoch, preallocateBytes);
    }

    /// <summary>Renames a spare to the segment whose first record will have <paramref name="firstSeq"/>; durable on return.</summary>
    public void Publish(string directory, ulong firstSeq)
    {
        var path = Path.Combine(directory, NameFor(firstSeq));
        File.Move(FilePath, path, overwrite: false);
        FilePath = path;
        FirstSeq = firstSeq;

        // Before any record is appended: a record acknowledged in a file still named a spare would be deleted by recovery.
        DirectorySync.Flush(directory);
    }

    private static SpoolSegment CreateFile(string path, ulong firstSeq, string epoch, long preallocateBytes)
    {
        var file = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        try
        {
            var epochBytes = Encoding.UTF8.GetBytes(epoch);
            var header = new byte[Magic.Length + 2 + epochBytes.Length];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(Magic.Length), (ushort)epochBytes.Length);
            epochBytes.CopyTo(header, Magic.Length + 2);
            file.Write(header);
            var segment = new SpoolSegment(path, firstSeq, file, header.Length, header.Length);
            segment.Preallocate(preallocateBytes);
            file.Flush(flushToDisk: true);
            return segment;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Opens an existing segment; returns null (and why) when its header is unreadable.</summary>
    public static SpoolSegment? Open(string path, out string? epoch, out string? problem)
    {
        epoch = null;
        problem = null;
        if (!ulong.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var firstSeq))
        {
            problem = "its name is not a sequence number";
            return null;
        }

        var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.ReadWrite, Share = FileShare.Read, BufferSize = 0 });
        try
        {
            Span<byte> prefix = stackalloc byte[10];
            if (RandomAccess.Read(file.SafeFileHandle, prefix, 0) < prefix.Length || !prefix[..Magic.Length].SequenceEqual(Magic))
            {
                problem = "its header is missing or not a spool segment's";
                file.Dispose();
                return null;
            }

            var epochLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix[Magic.Length..]);
            var epochBytes = new byte[epochLength];
            if (RandomAccess.Read(file.SafeFileHandle, epochBytes, prefix.Length) < epochLength)
            {
                problem = "its header is cut short";
                file.Dispose();
                return null;
            }

            epoch = Encoding.UTF8.GetString(epochBytes);
            var headerLength = prefix.Length + epochLength;
            return new SpoolSegment(path, firstSeq, file, file.Length, headerLength);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the records in file order. Stops at the first one that is incomplete, fails its checksum or is larger than
    /// <paramref name="maxBodyBytes"/> (a torn tail): <paramref name="validLength"/> is where the good records end.
    /// </summary>
    public List<RawRecord> Scan(int maxBodyBytes, out long validLength)
    {
        var records = new List<RawRecord>();
        var handle = _file.SafeFileHandle;
        var fileLength = RandomAccess.GetLength(handle);
        var offset = HeaderLength;
        Span<byte> header = stackalloc byte[RecordHeaderBytes];
        while (offset + RecordHeaderBytes <= fileLength)
        {
            RandomAccess.Read(handle, header, offset);
            var bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (bodyLength <= BodyPrefixBytes || bodyLength > (uint)maxBodyBytes || offset + RecordHeaderBytes + bodyLength > fileLength)
            {
                break;
            }

            var body = new byte[bodyLength];
            if (RandomAccess.Read(handle, body, offset + RecordHeaderBytes) < body.Length || Crc32C.Compute(body) != crc)
            {
                break;
            }

            records.Add(new RawRecord(offset, (int)bodyLength, body));
            offset += RecordHeaderBytes + bodyLength;
        }

        validLength = offset;
        return records;
    }

    /// <summary>
    /// Makes <paramref name="validLength"/> (where <see cref="Scan"/> found the good records end) the end of the records.
    /// Zeros after it are the preallocated tail and stay; anything else there (a torn record, or records written after a
    /// part of their batch that never reached the disk) is cut, durably, so that it can never be read as records once new
    /// ones are appended before it. Returns the bytes cut (0 when the tail was clean).
    /// </summary>
    public long CutAfter(long validLength)
    {
        var handle = _file.SafeFileHandle;
        var fileLength = RandomAccess.GetLength(handle);
        var dirtyEnd = EndOfNonZero(handle, validLength, fileLength);
        Length = validLength;
        if (dirtyEnd == validLength)
        {
            return 0;
        }

        _file.SetLength(validLength);
        _file.Flush(flushToDisk: true);
        return dirtyEnd - validLength;
    }

    /// <summary>
    /// Writes zeros from the end of the file up to <paramref name="bytes"/> (at most <see cref="MaxPreallocateBytes"/>) and
    /// flushes them, so that later appends within them need only an fdatasync of their data. Best effort: when the disk
    /// cannot hold them the zeros written are cut again and appends grow the file as they go.
    /// </summary>
    public void Preallocate(long bytes)
    {
        var handle = _file.SafeFileHandle;
        var start = RandomAccess.GetLength(handle);
        var end = Math.Min(bytes, MaxPreallocateBytes);
        if (start >= end)
        {
            return;
        }

        try
        {
            for (var offset = start; offset < end; offset += ZeroChunkBytes)
            {
                RandomAccess.Write(handle, Zeros.AsSpan(0, (int)Math.Min(ZeroChunkBytes, end - offset)), offset);
            }

            _file.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            _file.SetLength(start);
        }
    }

    /// <summary>
    /// Appends whole records and makes them durable; the bytes count only once this returns. An fdatasync: it flushes the
    /// file's size too when the append grows the file, but skips the timestamps, which recovery does not need.
    /// </summary>
    public void AppendDurably(ReadOnlySpan<byte> records)
    {
        RandomAccess.Write(_file.SafeFileHandle, records, Length);
        FileSync.FlushData(_file.SafeFileHandle);
        Length += records.Length;
    }

    /// <summary>
    /// Cuts back a failed append (best effort: the next recovery would cut it anyway). Cutting also drops the
    /// preallocated zeros beyond: safe (later appends grow the file), and failed writes are rare.
    /// </summary>
    public void Rollback(long length)
    {
        try
        {
            _file.SetLength(length);
        }
        catch (IOException)
        {
        }

        Length = length;
    }

    /// <summary>Reads a record's body (spooled-at prefix and message).</summary>
    public byte[] ReadBody(long offset, int bodyLength)
    {
        var body = new byte[bodyLength];
        var read = RandomAccess.Read(_file.SafeFileHandle, body, offset + RecordHeaderBytes);
        return read == bodyLength ? body : throw new IOException($"Spool segment {FilePath} is shorter than its index says (offset {offset}).");
    }

    public void Dispose() => _file.Dispose();

    /// <summary>Closes and deletes the file.</summary>
    public void Delete()
    {
        _file.Dispose();
        File.Delete(FilePath);
    }

    /// <summary>Where the last byte that is not zero in [<paramref name="start"/>, <paramref name="end"/>) ends (start when none).</summary>
    private static long EndOfNonZero(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long start, long end)
    {
        var buffer = new byte[ZeroChunkBytes];
        var dirtyEnd = start;
        for (var offset = start; offset < end;)
        {
            var read = RandomAccess.Read(handle, buffer.AsSpan(0, (int)Math.Min(ZeroChunkBytes, end - offset)), offset);
            if (read <= 0)
            {
                break;
            }

            var last = buffer.AsSpan(0, read).LastIndexOfAnyExcept((byte)0);
            if (last >= 0)
            {
                dirtyEnd = offset + last + 1;
            }

            offset += read;
        }

        return dirtyEnd;
    }

    /// <summary>Encodes one record into <paramref name="destination"/>; returns its size.</summary>
    public static int Encode(Span<byte> destination, long spooledAtUnixMs, ReadOnlySpan<byte> message)
    {
        var bodyLength = BodyPrefixBytes + message.Length;
        var body = destination.Slice(RecordHeaderBytes, bodyLength);
        BinaryPrimitives.WriteInt64LittleEndian(body, spooledAtUnixMs);
        message.CopyTo(body[BodyPrefixBytes..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32C.Compute(body));
        return RecordHeaderBytes + bodyLength;
    }
}

/// <summary>A record as read back from a segment.</summary>
/// <param name="Offset">Where the record starts in the file.</param>
/// <param name="BodyLength">Its body's length.</param>
/// <param name="Body">The body: spooled-at prefix and serialized message.</param>
internal sealed record RawRecord(long Offset, int BodyLength, byte[] Body);
