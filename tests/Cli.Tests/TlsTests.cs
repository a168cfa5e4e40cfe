using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Relay.Broker.Tests.Infrastructure;
using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>--ca-cert against a relay-broker process serving TLS with a self-signed certificate made in the test.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("relay-cli-tls-");
    private readonly CliHarness _cli = new();
    private BrokerProcess? _broker;

    private string CertPath => Path.Combine(_directory.Path, "broker.crt");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory.Path);
        using var certificate = SelfSigned();
        var keyPath = Path.Combine(_directory.Path, "broker.key");
        await File.WriteAllTextAsync(CertPath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        _broker = new BrokerProcess(["--tls-cert", CertPath, "--tls-key", keyPath]);
        await _broker.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        _cli.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Status_HttpsWithCaCert_TrustsTheBrokerAndSucceeds()
    {
        var result = await _cli.RunAsync("status", "--broker", "https://" + _broker!.Address, "--token", _broker.AdminToken, "--ca-cert", CertPath, "--json");

        result.ExitCode.Should().Be(0, result.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        json.RootElement.GetProperty("caller_role").GetString().Should().Be("ROLE_ADMIN");
    }

    [Fact]
    public async Task Login_WithCaCert_SavesItSoLaterCommandsUseTls()
    {
        (await _cli.RunAsync("login", "--broker", "https://" + _broker!.Address, "--token", _broker.AdminToken, "--ca-cert", CertPath)).ExitCode.Should().Be(0);

        var result = await _cli.RunAsync("machines", "list", "--json");

        result.ExitCode.Should().Be(0, result.Stderr);
        (await File.ReadAllTextAsync(_cli.ProfilePath)).Should().Contain(CertPath);
    }

    [Fact]
    public async Task Status_HttpsWithoutCaCert_IsUnavailableAndSuggestsCaCert()
    {
        var result = await _cli.RunAsync("status", "--broker", "https://" + _broker!.Address, "--token", _broker.AdminToken);

        result.ExitCode.Should().Be(ExitCodes.Unavailable);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().StartWith("relayctl: TLS handshake with the broker failed").And.Contain("--ca-cert").And.NotContain("   at ");
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=relay-broker-cli-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }
}
