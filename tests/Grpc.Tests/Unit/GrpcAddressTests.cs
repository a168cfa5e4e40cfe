using System.Net;
using Relay.Grpc.Internal;

namespace Relay.Grpc.Tests.Unit;

public sealed class GrpcAddressTests
{
    [Theory]
    [InlineData("127.0.0.1:7443", "127.0.0.1", 7443, null)]
    [InlineData("localhost:80", "localhost", 80, null)]
    [InlineData("http://10.0.0.1:5000", "10.0.0.1", 5000, false)]
    [InlineData("https://example.com:443/", "example.com", 443, true)]
    [InlineData("HTTPS://example.com:443", "example.com", 443, true)]
    [InlineData("[::1]:50051", "::1", 50051, null)]
    [InlineData("http://[::1]:0", "::1", 0, false)]
    [InlineData("  0.0.0.0:1  ", "0.0.0.0", 1, null)]
    public void Parse_HostAndPort_Parsed(string address, string host, int port, bool? tls)
    {
        var parsed = GrpcAddress.Parse(address);

        parsed.Should().Be(new GrpcAddress(host, port, null, tls));
        parsed.IsUnix.Should().BeFalse();
    }

    [Theory]
    [InlineData("unix:/run/relay/agent.sock")]
    [InlineData("unix:///run/relay/agent.sock")]
    [InlineData("UNIX:/run/relay/agent.sock")]
    public void Parse_UnixSocket_AbsolutePath(string address)
    {
        var parsed = GrpcAddress.Parse(address);

        parsed.IsUnix.Should().BeTrue();
        parsed.UnixPath.Should().Be("/run/relay/agent.sock");
    }

    [Theory]
    [InlineData("unix:relative.sock")]
    [InlineData("unix://host/path")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("host:")]
    [InlineData(":80")]
    [InlineData("host:70000")]
    [InlineData("host:-1")]
    [InlineData("host:http")]
    public void Parse_Malformed_ThrowsFormatException(string address)
    {
        var parse = () => GrpcAddress.Parse(address);

        parse.Should().Throw<FormatException>();
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Parse_Blank_ThrowsArgumentException(string address)
    {
        var parse = () => GrpcAddress.Parse(address);

        parse.Should().Throw<ArgumentException>();
    }

    [Theory]
    [InlineData("*:80", "0.0.0.0")]
    [InlineData("0.0.0.0:80", "0.0.0.0")]
    [InlineData("[::]:80", "::")]
    [InlineData("127.0.0.1:80", "127.0.0.1")]
    public void ListenAddress_Wildcards_MapToIpAddresses(string address, string expected)
    {
        GrpcAddress.Parse(address).ListenAddress.Should().Be(IPAddress.Parse(expected));
    }

    [Fact]
    public void ListenAddress_Localhost_IsNullMeaningLoopback()
    {
        GrpcAddress.Parse("localhost:80").ListenAddress.Should().BeNull();
    }

    [Fact]
    public void ListenAddress_HostName_ThrowsFormatException()
    {
        var listen = () => GrpcAddress.Parse("example.com:80").ListenAddress;

        listen.Should().Throw<FormatException>();
    }
}
