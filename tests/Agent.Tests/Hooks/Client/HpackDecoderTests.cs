using Relay.Agent.Hooks.Client;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>The hook client's HPACK decoder against RFC 7541 Appendix C's examples, and what it must refuse.</summary>
public sealed class HpackDecoderTests
{
    [Fact]
    public void Decode_Rfc7541C3_RequestsWithoutHuffmanShareTheDynamicTable()
    {
        var decoder = new HpackDecoder(16 * 1024);

        decoder.Decode(Hex("828684410f7777772e6578616d706c652e636f6d")).ToArray().Should().Equal(
            Field(":method", "GET"), Field(":scheme", "http"), Field(":path", "/"), Field(":authority", "www.example.com"));
        decoder.Decode(Hex("828684be58086e6f2d6361636865")).ToArray().Should().Equal(
            Field(":method", "GET"), Field(":scheme", "http"), Field(":path", "/"), Field(":authority", "www.example.com"),
            Field("cache-control", "no-cache"));
        decoder.Decode(Hex("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565")).ToArray().Should().Equal(
            Field(":method", "GET"), Field(":scheme", "https"), Field(":path", "/index.html"), Field(":authority", "www.example.com"),
            Field("custom-key", "custom-value"));
    }

    [Fact]
    public void Decode_Rfc7541C4_RequestsWithHuffmanShareTheDynamicTable()
    {
        var decoder = new HpackDecoder(16 * 1024);

        decoder.Decode(Hex("828684418cf1e3c2e5f23a6ba0ab90f4ff")).ToArray().Should().Equal(
            Field(":method", "GET"), Field(":scheme", "http"), Field(":path", "/"), Field(":authority", "www.example.com"));
        decoder.Decode(Hex("828684be5886a8eb10649cbf")).ToArray().Should().Equal(
            Field(":method", "GET"), Field(":scheme", "http"), Field(":path", "/"), Field(":authority", "www.example.com"),
            Field("cache-control", "no-cache"));
        decoder.Decode(Hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf")).ToArray().Should().Equal(
            Field(":method", "GET"), Field(":scheme", "https"), Field(":path", "/index.html"), Field(":authority", "www.example.com"),
            Field("custom-key", "custom-value"));
    }

    [Fact]
    public void Decode_Rfc7541C5_ResponsesEvictTheOldestEntriesFromA256ByteTable()
    {
        var decoder = new HpackDecoder(16 * 1024, settingsTableSize: 256);
        const string Date1 = "Mon, 21 Oct 2013 20:13:21 GMT";

        decoder.Decode(Hex(
            "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d")).ToArray()
            .Should().Equal(Field(":status", "302"), Field("cache-control", "private"), Field("date", Date1), Field("location", "https://www.example.com"));

        // :status 307 is added and ":status 302" (the oldest entry) is evicted to make room.
        decoder.Decode(Hex("4803333037c1c0bf")).ToArray().Should().Equal(
            Field(":status", "307"), Field("cache-control", "private"), Field("date", Date1), Field("location", "https://www.example.com"));

        decoder.Decode(Hex(
            "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31")).ToArray()
            .Should().Equal(
                Field(":status", "200"), Field("cache-control", "private"), Field("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
                Field("location", "https://www.example.com"), Field("content-encoding", "gzip"),
                Field("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"));
    }

    [Fact]
    public void Decode_Rfc7541C6_HuffmanResponses()
    {
        var decoder = new HpackDecoder(16 * 1024, settingsTableSize: 256);

        decoder.Decode(Hex("488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3")).ToArray()
            .Should().Equal(
                Field(":status", "302"), Field("cache-control", "private"), Field("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
                Field("location", "https://www.example.com"));
        decoder.Decode(Hex("4883640effc1c0bf")).ToArray().Should().Equal(
            Field(":status", "307"), Field("cache-control", "private"), Field("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            Field("location", "https://www.example.com"));
    }

    [Theory]
    [InlineData(0x00, 0x1ff8u, 13)]
    [InlineData((byte)'0', 0x0u, 5)]
    [InlineData((byte)'%', 0x15u, 6)]
    [InlineData((byte)'Z', 0xfdu, 8)]
    [InlineData((byte)'\\', 0x7fff0u, 19)]
    [InlineData((byte)'~', 0x1ffdu, 13)]
    [InlineData(0x80, 0xfffe6u, 20)]
    [InlineData(0xcb, 0x7ffffdeu, 27)]
    [InlineData(0xff, 0x3ffffeeu, 26)]
    [InlineData(0x0a, 0x3ffffffcu, 30)]
    public void Huffman_OneSymbolFromAppendixB_DecodesToItsByte(byte symbol, uint code, int length)
    {
        var output = new ByteBuffer();

        HpackHuffman.Decode(PadWithOnes(code, length), output);

        output.Span.ToArray().Should().Equal(symbol);
    }

    [Fact]
    public void Huffman_PaddingLongerThanSevenBits_IsRefused()
    {
        // 'a' (00011) followed by a whole byte of ones.
        var act = () => HpackHuffman.Decode(new byte[] { 0b0001_1111, 0xff }, new ByteBuffer());

        act.Should().Throw<HpackException>().WithMessage("*padding*");
    }

    [Fact]
    public void Huffman_PaddingWithAZero_IsRefused()
    {
        // 'a' (00011) followed by 110: not a prefix of EOS.
        var act = () => HpackHuffman.Decode(new byte[] { 0b0001_1110 }, new ByteBuffer());

        act.Should().Throw<HpackException>().WithMessage("*padding*");
    }

    [Fact]
    public void Huffman_TheEndOfStringSymbol_IsRefused()
    {
        // EOS is 30 ones; 32 ones hold it and 2 bits of padding.
        var act = () => HpackHuffman.Decode(new byte[] { 0xff, 0xff, 0xff, 0xff }, new ByteBuffer());

        act.Should().Throw<HpackException>().WithMessage("*EOS*");
    }

    [Theory]
    [InlineData("80", "index 0")]
    [InlineData("be", "index 62")]
    [InlineData("0f", "ends inside an integer")]
    [InlineData("0f8080808080", "too large")]
    [InlineData("00", "ends before a string")]
    [InlineData("000a6162", "longer than its header block")]
    [InlineData("3fe21f", "exceeds the 4096 allowed")]
    [InlineData("8220", "follows a header field")]
    public void Decode_MalformedBlock_IsRefusedWithTheReason(string block, string reason)
    {
        var act = () => new HpackDecoder(16 * 1024).Decode(Hex(block));

        act.Should().Throw<HpackException>().WithMessage("*" + reason + "*");
    }

    [Fact]
    public void Decode_HeaderListLargerThanTheLimit_IsRefused()
    {
        var block = new ByteBuffer();
        HpackEncoder.WriteLiteral(block, "x-big", new string('a', 200));

        var act = () => new HpackDecoder(maxHeaderListSize: 200).Decode(block.Span.ToArray());

        act.Should().Throw<HpackException>().WithMessage("*larger than 200 bytes*");
    }

    [Fact]
    public void Decode_WhatTheEncoderWrites_ReadsBack()
    {
        var block = new ByteBuffer();
        HpackEncoder.WriteIndexed(block, 3);
        HpackEncoder.WriteLiteral(block, 4, "/relay.v1.LocalAgent/Hook");
        HpackEncoder.WriteLiteral(block, "grpc-timeout", "999m");
        HpackEncoder.WriteLiteral(block, "x-long", new string('v', 300)); // a length past the 7-bit prefix

        new HpackDecoder(16 * 1024).Decode(block.Span.ToArray()).ToArray().Should().Equal(
            Field(":method", "POST"), Field(":path", "/relay.v1.LocalAgent/Hook"), Field("grpc-timeout", "999m"), Field("x-long", new string('v', 300)));
    }

    private static KeyValuePair<string, string> Field(string name, string value) => new(name, value);

    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    private static byte[] PadWithOnes(uint code, int length)
    {
        var bytes = (length + 7) / 8;
        var padding = bytes * 8 - length;
        var value = ((ulong)code << padding) | ((1UL << padding) - 1);
        var result = new byte[bytes];
        for (var i = 0; i < bytes; i++)
        {
            result[i] = (byte)(value >> (8 * (bytes - 1 - i)));
        }

        return result;
    }
}
