using Relay.Grpc.Internal;

namespace Relay.Grpc.Tests.Unit;

public sealed class BinaryHeaderTests
{
    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, "AQID")]
    [InlineData(new byte[] { 1, 2, 3, 4 }, "AQIDBA")]
    [InlineData(new byte[] { 1, 2, 3, 4, 5 }, "AQIDBAU")]
    [InlineData(new byte[0], "")]
    public void Encode_Bytes_UnpaddedBase64(byte[] value, string expected)
    {
        BinaryHeader.Encode(value).Should().Be(expected);
    }

    [Theory]
    [InlineData("AQIDBA==")]
    [InlineData("AQIDBA")]
    public void Decode_PaddedOrUnpadded_SameBytes(string value)
    {
        BinaryHeader.Decode(value).Should().ContainSingle().Which.Should().Equal(1, 2, 3, 4);
    }

    [Theory]
    [InlineData("AQID,AQIDBA==")]
    [InlineData("AQID, AQIDBA")]
    public void Decode_CommaJoinedValues_SplitIntoEach(string value)
    {
        var values = BinaryHeader.Decode(value).ToList();

        values.Should().HaveCount(2);
        values[0].Should().Equal(1, 2, 3);
        values[1].Should().Equal(1, 2, 3, 4);
    }

    [Theory]
    [InlineData("AQIDB")]
    [InlineData("A")]
    [InlineData("AQ!D")]
    public void Decode_NotBase64_ThrowsFormatException(string value)
    {
        var decode = () => BinaryHeader.Decode(value).ToList();

        decode.Should().Throw<FormatException>();
    }
}
