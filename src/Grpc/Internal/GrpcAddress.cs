using System.Globalization;
using System.Net;

namespace Relay.Grpc.Internal;

/// <summary>
/// The addresses the layer understands: <c>host:port</c>, <c>[v6]:port</c>, <c>http://host:port</c>,
/// <c>https://host:port</c>, and Unix sockets as <c>unix:/abs/path</c> or <c>unix:///abs/path</c>.
/// </summary>
internal sealed record GrpcAddress(string? Host, int Port, string? UnixPath, bool? Tls)
{
    public bool IsUnix => UnixPath is not null;

    public static GrpcAddress Parse(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        address = address.Trim();
        if (address.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            var path = address["unix:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                path = path[2..];
            }

            if (!path.StartsWith('/'))
            {
                throw new FormatException($"Unix socket address '{address}' needs an absolute path, e.g. unix:/run/relay/agent.sock.");
            }

            return new GrpcAddress(null, 0, path, false);
        }

        bool? tls = null;
        var rest = address;
        if (address.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            tls = false;
            rest = address["http://".Length..];
        }
        else if (address.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            tls = true;
            rest = address["https://".Length..];
        }

        rest = rest.TrimEnd('/');
        var colon = rest.LastIndexOf(':');
        if (colon <= 0 || (rest.Contains(']', StringComparison.Ordinal) && colon < rest.IndexOf(']', StringComparison.Ordinal)))
        {
            throw new FormatException($"Address '{address}' needs a port, e.g. 127.0.0.1:7443 or unix:/path/to.sock.");
        }

        var host = rest[..colon].Trim('[', ']');
        if (!int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new FormatException($"Address '{address}' has an invalid port; use a number from 0 to 65535.");
        }

        return new GrpcAddress(host, port, null, tls);
    }

    /// <summary>The IP address to listen on: <c>*</c> and <c>0.0.0.0</c> mean any; <c>localhost</c> means loopback.</summary>
    public IPAddress? ListenAddress => Host switch
    {
        "*" or "0.0.0.0" or "" => IPAddress.Any,
        "::" => IPAddress.IPv6Any,
        "localhost" => null,
        _ => IPAddress.TryParse(Host, out var ip)
            ? ip
            : throw new FormatException($"Listen address '{Host}' is not an IP address; use 127.0.0.1, 0.0.0.0, [::] or localhost."),
    };
}
