using Relay.Grpc.Internal;

namespace Relay.Grpc.Tests.Unit;

public sealed class ProtocolTests
{
    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("Application/GRPC", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("application/grpc-web", false)]
    [InlineData("application/grpcx", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void IsGrpcContentType_Value_Recognised(string? contentType, bool expected)
    {
        GrpcProtocol.IsGrpcContentType(contentType).Should().Be(expected);
    }

    [Theory]
    [InlineData(0x0, StatusCode.Internal)]
    [InlineData(0x1, StatusCode.Internal)]
    [InlineData(0x2, StatusCode.Internal)]
    [InlineData(0x7, StatusCode.Unavailable)]
    [InlineData(0x8, StatusCode.Cancelled)]
    [InlineData(0xb, StatusCode.ResourceExhausted)]
    [InlineData(0xc, StatusCode.PermissionDenied)]
    [InlineData(0xd, StatusCode.Internal)]
    public void FromHttp2ErrorCode_Code_MappedPerSpec(long code, StatusCode expected)
    {
        GrpcProtocol.FromHttp2ErrorCode(code).Should().Be(expected);
    }

    [Theory]
    [InlineData(400, StatusCode.Internal)]
    [InlineData(401, StatusCode.Unauthenticated)]
    [InlineData(403, StatusCode.PermissionDenied)]
    [InlineData(404, StatusCode.Unimplemented)]
    [InlineData(429, StatusCode.Unavailable)]
    [InlineData(502, StatusCode.Unavailable)]
    [InlineData(503, StatusCode.Unavailable)]
    [InlineData(504, StatusCode.Unavailable)]
    [InlineData(431, StatusCode.Internal)]
    [InlineData(500, StatusCode.Unknown)]
    [InlineData(200, StatusCode.Unknown)]
    public void FromHttpStatus_Code_MappedPerSpec(int code, StatusCode expected)
    {
        GrpcProtocol.FromHttpStatus(code).Should().Be(expected);
    }

    [Theory]
    [InlineData("identity, deflate, gzip", "gzip", true)]
    [InlineData("identity,deflate,gzip", "deflate", true)]
    [InlineData("identity", "gzip", false)]
    [InlineData(null, "gzip", false)]
    [InlineData("gzipx", "gzip", false)]
    public void Accepts_AcceptList_TrimsAndMatchesWholeItems(string? list, string encoding, bool expected)
    {
        Compression.Accepts(list, encoding).Should().Be(expected);
    }
}
