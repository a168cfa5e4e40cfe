using System.IO.Compression;

namespace Relay.Grpc.Internal;

/// <summary>Message compression: gRPC's <c>gzip</c>, and <c>deflate</c>, which is zlib-wrapped (RFC 1950).</summary>
internal static class Compression
{
    public const string Gzip = "gzip";
    public const string Deflate = "deflate";

    /// <summary>What this layer can decode, advertised in <c>grpc-accept-encoding</c>.</summary>
    public const string AcceptEncodingValue = "identity,gzip,deflate";

    public static bool IsSupported(string encoding) =>
        encoding is GrpcProtocol.IdentityEncoding or Gzip or Deflate;

    /// <summary>True when an accept list (commas, optional spaces) names <paramref name="encoding"/>.</summary>
    public static bool Accepts(string? acceptList, string encoding)
    {
        if (acceptList is null)
        {
            return false;
        }

        foreach (var item in acceptList.Split(',', StringSplitOptions.TrimEntries))
        {
            if (item.Equals(encoding, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    public static byte[] Compress(string encoding, ReadOnlySpan<byte> data)
    {
        using var output = new MemoryStream();
        using (var stream = CreateCompressor(encoding, output))
        {
            stream.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Decompresses, refusing to produce more than <paramref name="maxSize"/> bytes (a zip bomb stays small).</summary>
    public static byte[] Decompress(string encoding, ReadOnlySpan<byte> data, int? maxSize)
    {
        using var input = new MemoryStream(data.ToArray());
        using var stream = encoding switch
        {
            Gzip => (Stream)new GZipStream(input, CompressionMode.Decompress),
            Deflate => new ZLibStream(input, CompressionMode.Decompress),
            _ => throw new InvalidOperationException($"Unsupported encoding '{encoding}'."),
        };
        using var output = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
            if (maxSize is { } max && output.Length > max)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size."));
            }
        }

        return output.ToArray();
    }

    private static Stream CreateCompressor(string encoding, Stream output) => encoding switch
    {
        Gzip => new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true),
        Deflate => new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true),
        _ => throw new InvalidOperationException($"Unsupported encoding '{encoding}'."),
    };
}
