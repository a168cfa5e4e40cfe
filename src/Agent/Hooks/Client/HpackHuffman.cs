namespace Relay.Agent.Hooks.Client;

/// <summary>
/// Decodes HPACK's static Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical: codes of one length are
/// consecutive, ordered by symbol, and each length's first code follows from the previous one. So the 257 code lengths
/// are all the table needed; the codes themselves are rebuilt from them once.
/// </summary>
internal static class HpackHuffman
{
    private const int EndOfString = 256;
    private const int MaxCodeLength = 30;

    // Appendix B's "len in bits" column, by symbol (0-255, then EOS).
    private static ReadOnlySpan<byte> CodeLengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ];

    private static readonly Table Codes = new();

    /// <summary>Decodes <paramref name="encoded"/> into <paramref name="output"/>.</summary>
    /// <exception cref="HpackException">EOS inside the string, padding longer than 7 bits or not all ones (§5.2).</exception>
    public static void Decode(ReadOnlySpan<byte> encoded, ByteBuffer output)
    {
        var table = Codes;
        var code = 0;
        var length = 0;
        foreach (var octet in encoded)
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                code = (code << 1) | ((octet >> bit) & 1);
                length++;
                var offset = code - table.FirstCode[length];
                if (offset >= 0 && offset < table.Count[length])
                {
                    var symbol = table.Symbols[table.FirstIndex[length] + offset];
                    if (symbol == EndOfString)
                    {
                        throw new HpackException("a Huffman-coded string holds the EOS symbol");
                    }

                    output.Add((byte)symbol);
                    code = 0;
                    length = 0;
                }
                else if (length == MaxCodeLength)
                {
                    throw new HpackException("a Huffman-coded string holds an invalid code");
                }
            }
        }

        // What is left must be a prefix of EOS (all ones) and shorter than a byte.
        if (length > 7 || code != (1 << length) - 1)
        {
            throw new HpackException("a Huffman-coded string ends with invalid padding");
        }
    }

    /// <summary>Per code length: the first code, how many symbols have that length, and where they start in <see cref="Symbols"/>.</summary>
    private sealed class Table
    {
        public readonly int[] FirstCode = new int[MaxCodeLength + 1];
        public readonly int[] Count = new int[MaxCodeLength + 1];
        public readonly int[] FirstIndex = new int[MaxCodeLength + 1];
        public readonly int[] Symbols = new int[EndOfString + 1];

        public Table()
        {
            var lengths = CodeLengths;
            foreach (var length in lengths)
            {
                Count[length]++;
            }

            var code = 0;
            var index = 0;
            for (var length = 1; length <= MaxCodeLength; length++)
            {
                FirstCode[length] = code;
                FirstIndex[length] = index;
                index += Count[length];
                code = (code + Count[length]) << 1;
            }

            var next = (int[])FirstIndex.Clone();
            for (var symbol = 0; symbol < lengths.Length; symbol++)
            {
                Symbols[next[lengths[symbol]]++] = symbol;
            }
        }
    }
}
