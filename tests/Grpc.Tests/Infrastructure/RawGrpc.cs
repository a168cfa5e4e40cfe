using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;

namespace Relay.Grpc.Tests.Infrastructure;

/// <summary>
/// A plain HttpClient speaking h2c with prior knowledge, for checks the layer's own client would hide
/// (exact headers, HTTP statuses, frames on the wire).
/// </summary>
internal static class RawGrpc
{
    public static HttpClient CreateClient(Uri baseUri) =>
        new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = baseUri,
            Timeout = Timeout.InfiniteTimeSpan,
        };

    /// <summary>One length-prefixed message: flag byte, big-endian length, bytes.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload, byte flag = 0)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    public static HttpRequestMessage Post(string path, byte[] body, string? contentType = "application/grpc", params (string Name, string Value)[] headers)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        // A request message's own version is what counts; HttpClient's defaults apply to its helpers only.
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    /// <summary>Reads the whole body and splits it into (flag, payload) frames.</summary>
    public static async Task<List<(byte Flag, byte[] Payload)>> ReadFramesAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync().Bounded();
        var frames = new List<(byte, byte[])>();
        var offset = 0;
        while (offset < body.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(body.AsSpan(offset + 1));
            frames.Add((body[offset], body.AsSpan(offset + 5, length).ToArray()));
            offset += 5 + length;
        }

        return frames;
    }

    /// <summary>The value of <paramref name="name"/> in the trailers, else the headers (Trailers-Only).</summary>
    public static string? GetStatusField(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var values) || response.Headers.TryGetValues(name, out values)
            ? values.Single()
            : null;
}
