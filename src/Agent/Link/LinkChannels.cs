using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Relay.Agent.Config;
using Relay.Grpc;

namespace Relay.Agent.Link;

/// <summary>gRPC channels to the broker: the configured address, TLS trusting the configured CA when there is one.</summary>
internal static class LinkChannels
{
    public static GrpcChannel Create(AgentConfig config) => Create(config.BrokerAddress!, config.CaCertificatePath);

    /// <exception cref="LinkConfigurationException">The address or the CA file cannot be used; the message says how to fix it.</exception>
    public static GrpcChannel Create(string address, string? caCertificatePath)
    {
        var options = new GrpcChannelOptions { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (!string.IsNullOrEmpty(caCertificatePath))
        {
            options.RootCertificates = LoadCertificates(caCertificatePath);
        }

        try
        {
            return GrpcChannel.ForAddress(address, options);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or UriFormatException)
        {
            throw new LinkConfigurationException($"The broker address '{address}' cannot be used ({ex.Message}). Give host:port, https://host:port or unix:/path.", ex);
        }
    }

    /// <summary>Reads the CA certificates of a PEM file.</summary>
    public static X509Certificate2Collection LoadCertificates(string path)
    {
        try
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(path);
            return roots.Count > 0 ? roots : throw new CryptographicException("the file holds no certificate");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new LinkConfigurationException($"Cannot read the broker's CA certificate '{path}' ({ex.Message}). Give a PEM file with the CA that signed the broker's certificate.", ex);
        }
    }
}

/// <summary>The broker address or CA in the agent's configuration cannot be used.</summary>
internal sealed class LinkConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
