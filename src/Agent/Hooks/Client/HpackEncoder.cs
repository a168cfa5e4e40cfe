using System.Text;

namespace Relay.Agent.Hooks.Client;

/// <summary>
/// The HPACK encoding the hook call needs (RFC 7541): literal fields without indexing and without Huffman coding, so
/// the peer's dynamic table is never touched and there is no encoder state.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>Appends an HPACK integer with an <paramref name="prefixBits"/>-bit prefix; <paramref name="flags"/> fills the bits above it.</summary>
    public static void WriteInteger(ByteBuffer output, int value, int prefixBits, byte flags)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            output.Add((byte)(flags | value));
            return;
        }

        output.Add((byte)(flags | max));
        value -= max;
        while (value >= 0x80)
        {
            output.Add((byte)((value & 0x7F) | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }

    /// <summary>A field that is static table entry <paramref name="index"/>, name and value.</summary>
    public static void WriteIndexed(ByteBuffer output, int index) => WriteInteger(output, index, 7, 0x80);

    /// <summary>A literal field without indexing whose name is static table entry <paramref name="nameIndex"/>.</summary>
    public static void WriteLiteral(ByteBuffer output, int nameIndex, string value)
    {
        WriteInteger(output, nameIndex, 4, 0x00);
        WriteString(output, value);
    }

    /// <summary>A literal field without indexing with a literal name.</summary>
    public static void WriteLiteral(ByteBuffer output, string name, string value)
    {
        output.Add(0x00);
        WriteString(output, name);
        WriteString(output, value);
    }

    private static void WriteString(ByteBuffer output, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        WriteInteger(output, bytes.Length, 7, 0x00);
        output.Append(bytes);
    }
}
