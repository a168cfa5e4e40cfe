using Microsoft.Extensions.Options;

namespace Relay.Broker.Hosting;

/// <summary>Checks <see cref="BrokerOptions"/> at start, before anything listens: each failure names the setting, its value and a fix.</summary>
internal sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        var failures = new List<string>();
        if (options.EffectiveListen.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add("Broker:Listen (--listen) entries must be host:port or unix:/path.");
        }

        if (options.TlsKeyPath is not null && options.TlsCertificatePath is null)
        {
            failures.Add("Broker:TlsKeyPath (--tls-key) is set without Broker:TlsCertificatePath (--tls-cert); give both (PEM) or a PFX certificate alone.");
        }

        if (options.TlsCertificatePath is { } certificate && !File.Exists(certificate))
        {
            failures.Add($"Broker:TlsCertificatePath (--tls-cert) '{certificate}' does not exist; point it at a PEM (with --tls-key) or PFX certificate.");
        }

        if (options.TlsKeyPath is { } key && !File.Exists(key))
        {
            failures.Add($"Broker:TlsKeyPath (--tls-key) '{key}' does not exist; point it at the PEM private key of --tls-cert.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
