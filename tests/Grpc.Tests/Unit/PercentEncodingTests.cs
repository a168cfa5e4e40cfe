using Relay.Grpc.Internal;

namespace Relay.Grpc.Tests.Unit;

public sealed class PercentEncodingTests
{
    // The interop suite's special_status_message: whitespace, a BMP symbol and a non-BMP emoji.
    private const string SpecialMessage = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

    [Fact]
    public void EncodeDecode_SpecialStatusMessage_RoundTripsExactly()
    {
        var encoded = PercentEncoding.Encode(SpecialMessage);

        PercentEncoding.Decode(encoded).Should().Be(SpecialMessage);
    }

    [Fact]
    public void Encode_SpecialStatusMessage_IsPrintableAsciiWithWhitespaceEscaped()
    {
        var encoded = PercentEncoding.Encode(SpecialMessage);

        encoded.Should().StartWith("%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A");
        encoded.ToCharArray().Should().OnlyContain(c => c >= 0x20 && c <= 0x7E);
    }

    [Theory]
    [InlineData("é%", "%C3%A9%25")]
    [InlineData("plain text with spaces", "plain text with spaces")]
    [InlineData("100%", "100%25")]
    [InlineData("", "")]
    [InlineData("~!@#$^&*()", "~!@#$^&*()")]
    public void Encode_Value_EncodesOnlyOutsidePrintableAsciiAndPercent(string value, string expected)
    {
        PercentEncoding.Encode(value).Should().Be(expected);
    }

    [Theory]
    [InlineData("%", "%")]
    [InlineData("abc%", "abc%")]
    [InlineData("%4", "%4")]
    [InlineData("%zz", "%zz")]
    [InlineData("%G1 and %20", "%G1 and  ")]
    [InlineData("100% sure", "100% sure")]
    [InlineData("%c3%a9", "é")]
    [InlineData("a+b", "a+b")]
    public void Decode_BadOrUnusualSequences_NeverThrowsAndPassesThrough(string value, string expected)
    {
        PercentEncoding.Decode(value).Should().Be(expected);
    }

    [Fact]
    public void Decode_InvalidUtf8Bytes_ReplacedNotThrown()
    {
        PercentEncoding.Decode("bad %C3 byte").Should().Be("bad \uFFFD byte");
    }

    [Fact]
    public void Decode_SpacesLeftAlone_StaysSpaces()
    {
        PercentEncoding.Decode("a b  c").Should().Be("a b  c");
    }

    [Fact]
    public void Decode_RawNonAsciiNextToEscapes_Preserved()
    {
        // A lenient peer may send raw UTF-8; the non-BMP character is a surrogate pair in .NET strings.
        PercentEncoding.Decode("ü 😈%21").Should().Be("ü 😈!");
    }
}
