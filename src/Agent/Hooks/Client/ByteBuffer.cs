namespace Relay.Agent.Hooks.Client;

/// <summary>A growable run of bytes: the hook client's outgoing frames, header blocks, the answer's body.</summary>
/// <remarks>
/// Not <c>List&lt;byte&gt;</c>: its span helpers are generic code that a ReadyToRun image does not hold for byte
/// (<c>CollectionExtensions.AddRange</c>, which also loads System.Collections.dll, and <c>CollectionsMarshal.AsSpan</c>),
/// so a cold <c>relay-agent hook</c> loaded an assembly and ran the JIT for them on every session start (docs/agent.md,
/// "Hook client start time"). This class is ours and non-generic, so ReadyToRun compiles it.
/// </remarks>
internal sealed class ByteBuffer(int capacity = 256)
{
    private byte[] _bytes = new byte[Math.Max(capacity, 16)];

    public int Count { get; private set; }

    /// <summary>The bytes written so far; valid until the next write.</summary>
    public ReadOnlySpan<byte> Span => new(_bytes, 0, Count);

    public void Add(byte value)
    {
        Reserve(1);
        _bytes[Count++] = value;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        Reserve(data.Length);
        data.CopyTo(new Span<byte>(_bytes, Count, data.Length));
        Count += data.Length;
    }

    public void Clear() => Count = 0;

    private void Reserve(int more)
    {
        if (more <= _bytes.Length - Count)
        {
            return;
        }

        var larger = new byte[Math.Max(checked(Count + more), _bytes.Length * 2)];
        new ReadOnlySpan<byte>(_bytes, 0, Count).CopyTo(larger);
        _bytes = larger;
    }
}
