namespace Relay.Grpc.Tests.Unit;

public sealed class MetadataTests
{
    [Fact]
    public void Add_MixedCaseKey_StoredLowercase()
    {
        var metadata = new Metadata { { "X-Trace-Id", "abc" } };

        metadata[0].Key.Should().Be("x-trace-id");
        metadata.GetValue("x-trace-id").Should().Be("abc");
        metadata.GetValue("X-TRACE-ID").Should().Be("abc");
    }

    [Fact]
    public void Add_BinaryKeyWithBytes_IsBinaryRegardlessOfCase()
    {
        var metadata = new Metadata { { "Trace-BIN", new byte[] { 0, 255 } } };

        metadata[0].Key.Should().Be("trace-bin");
        metadata[0].IsBinary.Should().BeTrue();
        metadata.GetValueBytes("trace-bin").Should().Equal(0, 255);
        metadata.GetValue("trace-bin").Should().BeNull();
    }

    [Fact]
    public void Add_BinaryKeyWithString_Throws()
    {
        var add = () => new Metadata().Add("a-bin", "text");

        add.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Add_TextKeyWithBytes_Throws()
    {
        var add = () => new Metadata().Add("a", new byte[] { 1 });

        add.Should().Throw<ArgumentException>();
    }

    [Theory]
    [InlineData("has space")]
    [InlineData(":path")]
    [InlineData("a/b")]
    [InlineData("ä")]
    [InlineData("\u212A")] // KELVIN SIGN lowercases to ASCII 'k' under invariant rules
    [InlineData("\u0130d")] // LATIN CAPITAL I WITH DOT lowercases to ASCII 'i'
    [InlineData("")]
    public void Add_KeyOutsideTheAllowedCharacters_Throws(string key)
    {
        var add = () => new Metadata().Add(key, "v");

        add.Should().Throw<ArgumentException>();
    }

    [Theory]
    [InlineData("line\nbreak")]
    [InlineData("tab\t")]
    [InlineData("é")]
    [InlineData("\u007F")]
    public void Add_ValueOutsidePrintableAscii_Throws(string value)
    {
        var add = () => new Metadata().Add("k", value);

        add.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Add_AllowedKeyCharacters_Accepted()
    {
        var metadata = new Metadata { { "a-z_0.9", "~ printable !" } };

        metadata.GetValue("a-z_0.9").Should().Be("~ printable !");
    }

    [Fact]
    public void Get_DuplicateKeys_LastWinsAndGetAllKeepsOrder()
    {
        var metadata = new Metadata { { "k", "1" }, { "other", "x" }, { "K", "2" } };

        metadata.GetValue("k").Should().Be("2");
        metadata.GetAll("k").Select(e => e.Value).Should().Equal("1", "2");
    }

    [Fact]
    public void Empty_Add_ThrowsBecauseReadOnly()
    {
        var add = () => Metadata.Empty.Add("k", "v");

        Metadata.Empty.IsReadOnly.Should().BeTrue();
        add.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void Entry_TextValueBytes_AreAscii()
    {
        new Metadata.Entry("k", "AB").ValueBytes.Should().Equal(65, 66);
    }
}
