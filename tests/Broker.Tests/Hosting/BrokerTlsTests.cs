using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Relay.Broker.Tests.Access;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Hosting;

/// <summary>The broker serving gRPC over TLS with a PEM certificate and key (Broker:TlsCertificatePath / TlsKeyPath).</summary>
[Collection(PostgresCollection.Name)]
public sealed class BrokerTlsTests(PostgresFixture postgres)
{
    [Fact]
    public async Task GetServerInfo_OverTlsWithSelfSignedPemCertificate_ClientTrustingItSucceeds()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<BrokerTlsTests>();
        using var directory = new TempDirectory("relay-tls-");
        Directory.CreateDirectory(directory.Path);
        using var certificate = SelfSigned();
        var certPath = Path.Combine(directory.Path, "broker.crt");
        var keyPath = Path.Combine(directory.Path, "broker.key");
        await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem(), timeout.Token);
        await File.WriteAllTextAsync(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), timeout.Token);
        await using var broker = await TestBroker.StartAsync(database, new Dictionary<string, string?>
        {
            ["Broker:TlsCertificatePath"] = certPath,
            ["Broker:TlsKeyPath"] = keyPath,
        }, cancellationToken: timeout.Token);
        var (_, admin) = await AccessSeed.TokenAsync(database, Role.Admin, "pat-tls", timeout.Token);
        var options = new GrpcChannelOptions { RootCertificates = [X509CertificateLoader.LoadCertificate(certificate.RawData)] };
        options.Interceptors.Add(new Bearer(admin));
        using var channel = GrpcChannel.ForAddress($"https://{broker.Address}", options);

        var info = await new Protocol.V1.Admin.AdminClient(channel).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);
        using var untrusting = GrpcChannel.ForAddress($"https://{broker.Address}", new GrpcChannelOptions());
        var refused = async () => await new Protocol.V1.Admin.AdminClient(untrusting).GetServerInfoAsync(new GetServerInfoRequest(), deadline: AccessSeed.Deadline, cancellationToken: timeout.Token);

        info.Caller.DisplayName.Should().Be("pat-tls");
        info.CallerRole.Should().Be(Role.Admin);
        (await refused.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unavailable, "a client that does not trust the certificate cannot connect");
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=relay-broker-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }

    private sealed class Bearer(string token) : ClientInterceptor
    {
        public override ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken)
        {
            context.Headers.Add("authorization", "Bearer " + token);
            return ValueTask.CompletedTask;
        }
    }
}
