using System.ComponentModel.DataAnnotations;

namespace Relay.Broker.Hosting;

/// <summary>How the broker serves. Bound from the <c>Broker</c> configuration section (<c>RELAY_BROKER__*</c>).</summary>
internal sealed class BrokerOptions
{
    public const string SectionName = "Broker";

    /// <summary>
    /// Addresses to serve gRPC on (<c>--listen</c>): <c>host:port</c> or <c>unix:/path</c>. Default 127.0.0.1:7443.
    /// </summary>
    public List<string> Listen { get; set; } = [];

    /// <summary>
    /// Addresses for plain HTTP/1.1 (<c>/healthz</c>, <c>/readyz</c> for probes that cannot speak h2c). Default: none.
    /// </summary>
    public List<string> HttpListen { get; set; } = [];

    /// <summary>A PEM or PFX certificate for TLS (ALPN h2). Without it the broker speaks h2c: keep that to loopback.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="TlsCertificatePath"/> when the certificate is PEM.</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>The broker's own files (admin.token, the embedded cluster). Default: /var/lib/relay as root, else ~/.local/share/relay.</summary>
    public string DataDirectory { get; set; } = Postgres.EmbeddedPostgresOptions.DefaultDataDirectory();

    /// <summary>How long shutdown waits for streams to end before connections are reset. Default 10 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Broker:ShutdownTimeout must be between 1 second and 10 minutes, e.g. 00:00:10.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IReadOnlyList<string> EffectiveListen => Listen.Count > 0 ? Listen : ["127.0.0.1:7443"];
}
