using System.Text;

namespace Relay.Agent.Hooks.Client;

/// <summary>A header block that breaks HPACK (RFC 7541): a connection error (COMPRESSION_ERROR) for HTTP/2.</summary>
internal sealed class HpackException(string message) : Exception(message);

/// <summary>
/// HPACK decoding (RFC 7541), all of it: indexed fields, literals with and without indexing, Huffman-coded strings and
/// table size updates. One decoder per connection: the dynamic table lives across its header blocks (a server may index
/// a field in the response headers and refer to it in the trailers).
/// </summary>
internal sealed class HpackDecoder(int maxHeaderListSize, int settingsTableSize = HpackDecoder.DefaultTableSize)
{
    /// <summary>SETTINGS_HEADER_TABLE_SIZE's initial value; the hook client never changes it.</summary>
    public const int DefaultTableSize = 4096;

    private const int EntryOverhead = 32;

    // RFC 7541 Appendix A. Index 0 is unused.
    private static readonly (string Name, string Value)[] StaticTable =
    [
        ("", ""), (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""), ("etag", ""),
        ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""), ("if-modified-since", ""),
        ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""),
        ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""), ("range", ""),
        ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""), ("set-cookie", ""),
        ("strict-transport-security", ""), ("transfer-encoding", ""), ("user-agent", ""), ("vary", ""), ("via", ""),
        ("www-authenticate", ""),
    ];

    // Oldest first, newest last: HPACK index 62 is the last entry. Arrays of strings, not a List of tuples: List's
    // Insert and growth over a value tuple are generic code ReadyToRun leaves to the JIT, a cold client's milliseconds.
    // Every entry costs at least EntryOverhead, so the table never holds more than settingsTableSize / EntryOverhead
    // entries (128 at the default size), few enough that eviction shifts the arrays.
    private readonly string[] _names = new string[settingsTableSize / EntryOverhead];
    private readonly string[] _values = new string[settingsTableSize / EntryOverhead];
    private int _count;
    private readonly ByteBuffer _huffman = new();
    private int _tableSize;
    private readonly int _settingsTableSize = settingsTableSize;
    private int _maxTableSize = settingsTableSize;

    /// <summary>Decodes one complete header block (HEADERS plus any CONTINUATION payloads, joined).</summary>
    /// <exception cref="HpackException">The block is malformed, or its fields exceed the header list size.</exception>
    public HeaderFields Decode(ReadOnlySpan<byte> block)
    {
        var fields = new HeaderFields();
        var listSize = 0;
        var position = 0;
        while (position < block.Length)
        {
            var first = block[position];
            string name;
            string value;
            if ((first & 0x80) != 0)
            {
                (name, value) = Entry(ReadInteger(block, ref position, 7));
            }
            else if ((first & 0xC0) == 0x40)
            {
                name = ReadName(block, ref position, 6);
                value = ReadString(block, ref position);
                Add(name, value);
            }
            else if ((first & 0xE0) == 0x20)
            {
                // A size update is only allowed before the block's first field (§4.2).
                var size = ReadInteger(block, ref position, 5);
                if (fields.Count > 0 || size > _settingsTableSize)
                {
                    throw new HpackException(fields.Count > 0
                        ? "a dynamic table size update follows a header field"
                        : "a dynamic table size update to " + size + " exceeds the " + _settingsTableSize + " allowed");
                }

                _maxTableSize = size;
                Evict(size);
                continue;
            }
            else
            {
                // Literal without indexing (0000) or never indexed (0001): both have a 4-bit name index.
                name = ReadName(block, ref position, 4);
                value = ReadString(block, ref position);
            }

            listSize += name.Length + value.Length + EntryOverhead;
            if (listSize > maxHeaderListSize)
            {
                throw new HpackException("the header list is larger than " + maxHeaderListSize + " bytes");
            }

            fields.Add(name, value);
        }

        return fields;
    }

    private static int ReadInteger(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[position++] & max;
        if (value < max)
        {
            return value;
        }

        // Four continuation bytes carry 28 bits: more than any size this client accepts, so longer is an attack or an error.
        for (var shift = 0; shift <= 21; shift += 7)
        {
            if (position >= block.Length)
            {
                throw new HpackException("a header block ends inside an integer");
            }

            var next = block[position++];
            value += (next & 0x7F) << shift;
            if ((next & 0x80) == 0)
            {
                return value;
            }
        }

        throw new HpackException("a header block holds an integer that is too large");
    }

    private string ReadName(ReadOnlySpan<byte> block, ref int position, int prefixBits)
    {
        var index = ReadInteger(block, ref position, prefixBits);
        return index == 0 ? ReadString(block, ref position) : Entry(index).Name;
    }

    private string ReadString(ReadOnlySpan<byte> block, ref int position)
    {
        if (position >= block.Length)
        {
            throw new HpackException("a header block ends before a string");
        }

        var huffman = (block[position] & 0x80) != 0;
        var length = ReadInteger(block, ref position, 7);
        if (length > block.Length - position)
        {
            throw new HpackException("a header string of " + length + " bytes is longer than its header block");
        }

        var raw = block.Slice(position, length);
        position += length;
        if (!huffman)
        {
            return Encoding.Latin1.GetString(raw);
        }

        _huffman.Clear();
        HpackHuffman.Decode(raw, _huffman);
        return Encoding.Latin1.GetString(_huffman.Span);
    }

    private (string Name, string Value) Entry(int index)
    {
        if (index > 0 && index < StaticTable.Length)
        {
            return StaticTable[index];
        }

        var dynamicIndex = index - StaticTable.Length;
        if (index <= 0 || dynamicIndex >= _count)
        {
            throw new HpackException("a header field refers to index " + index + ", which does not exist");
        }

        var at = _count - 1 - dynamicIndex;
        return (_names[at], _values[at]);
    }

    private void Add(string name, string value)
    {
        var size = name.Length + value.Length + EntryOverhead;

        // An entry larger than the whole table empties it and is not added (§4.4).
        Evict(Math.Max(0, _maxTableSize - size));
        if (size <= _maxTableSize)
        {
            // Room for it was made above, and every entry takes at least EntryOverhead, so the arrays have a free slot.
            _names[_count] = name;
            _values[_count] = value;
            _count++;
            _tableSize += size;
        }
    }

    private void Evict(int room)
    {
        var limit = Math.Min(room, _maxTableSize);
        var evicted = 0;
        while (_tableSize > limit && evicted < _count)
        {
            _tableSize -= _names[evicted].Length + _values[evicted].Length + EntryOverhead;
            evicted++;
        }

        if (evicted > 0)
        {
            Array.Copy(_names, evicted, _names, 0, _count - evicted);
            Array.Copy(_values, evicted, _values, 0, _count - evicted);
            Array.Clear(_names, _count - evicted, evicted);
            Array.Clear(_values, _count - evicted, evicted);
            _count -= evicted;
        }
    }
}
