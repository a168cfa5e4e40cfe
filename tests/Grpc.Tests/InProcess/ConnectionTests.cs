using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

/// <summary>Transport-level behaviour of the channel: TLS, keepalive, connection reuse, call lifetime.</summary>
public sealed class ConnectionTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task Unary_TlsWithTrustedRoot_Succeeds(string host)
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await TestServer.StartAsync(o => o.Certificate = certificate);
        using var channel = GrpcChannel.ForAddress($"https://{host}:{server.BaseUri!.Port}", new GrpcChannelOptions
        {
            RootCertificates = [X509CertificateLoader.LoadCertificate(certificate.RawData)],
        });

        var reply = await new TesterClient(channel).Unary(new TestRequest { Text = "secure" }).ResponseAsync.Bounded();

        reply.Text.Should().Be("secure");
        server.BaseUri.Scheme.Should().Be("https");
    }

    [Fact]
    public async Task Duplex_OverTls_Works()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await TestServer.StartAsync(o => o.Certificate = certificate);
        using var channel = server.CreateChannel(new GrpcChannelOptions { RootCertificates = [X509CertificateLoader.LoadCertificate(certificate.RawData)] });

        using var call = new TesterClient(channel).Duplex();
        await call.RequestStream.WriteAsync(new TestRequest { Text = "a" }).Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        await call.RequestStream.CompleteAsync().Bounded();

        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
    }

    [Fact]
    public async Task Unary_TlsWithoutTrust_Unavailable()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        await using var server = await TestServer.StartAsync(o => o.Certificate = certificate);
        using var channel = server.CreateChannel();

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.Unavailable);
    }

    [Fact]
    public async Task Unary_TlsTrustingAnotherRoot_Unavailable()
    {
        using var certificate = TestCertificates.CreateSelfSigned();
        using var other = TestCertificates.CreateSelfSigned("someone-else");
        await using var server = await TestServer.StartAsync(o => o.Certificate = certificate);
        using var channel = server.CreateChannel(new GrpcChannelOptions { RootCertificates = [X509CertificateLoader.LoadCertificate(other.RawData)] });

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.Unavailable);
    }

    [Fact]
    public async Task Unary_NothingListening_Unavailable()
    {
        string address;
        await using (var server = await TestServer.StartAsync())
        {
            address = server.Address;
        }

        using var channel = GrpcChannel.ForAddress(address);

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.Unavailable);
    }

    [Fact]
    public async Task Duplex_KeepAlivePingsConfigured_CallsSucceed()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel(new GrpcChannelOptions
        {
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
        });

        using var call = new TesterClient(channel).Duplex();
        await call.RequestStream.WriteAsync(new TestRequest { Text = "k" }).Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        await call.RequestStream.CompleteAsync().Bounded();

        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
        (await new TesterClient(channel).Unary(new TestRequest { Text = "u" }).ResponseAsync.Bounded()).Text.Should().Be("u");
    }

    [Fact]
    public void ForAddress_UnsupportedCompression_Throws()
    {
        var create = () => GrpcChannel.ForAddress("127.0.0.1:1", new GrpcChannelOptions { CompressionAlgorithm = "snappy" });

        create.Should().Throw<ArgumentException>();
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task Unary_ManySequentialCalls_ReuseAtMostTwoConnections(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o => o.Transport = transport);
        using var channel = server.CreateChannel();
        var client = new TesterClient(channel);

        for (var i = 0; i < 50; i++)
        {
            using var call = client.Unary(new TestRequest { Count = i });
            (await call.ResponseAsync.Bounded()).Should().NotBeNull();
        }

        server.AcceptedConnections.Should().BeInRange(1, 2);
    }

    [Fact]
    public async Task Unary_ManyConcurrentCalls_AllSucceedOverFewConnections()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();
        var client = new TesterClient(channel);
        await client.Unary(new TestRequest()).ResponseAsync.Bounded();

        var replies = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => client.Unary(new TestRequest { Count = i }).ResponseAsync)).Bounded();

        replies.Should().HaveCount(64);
        server.AcceptedConnections.Should().BeInRange(1, 2);
    }

    [Fact]
    public async Task Duplex_MoreOpenStreamsThanKestrelAllowsPerConnection_OpenAnotherConnection()
    {
        // Kestrel allows 100 concurrent streams per connection; every call below stays open until all
        // have reached the server, which is only possible if the channel opens a second connection.
        const int Calls = 110;
        var started = 0;
        var allStarted = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Duplex = async (_, _, context) =>
        {
            if (Interlocked.Increment(ref started) == Calls)
            {
                allStarted.TrySetResult();
            }

            await allStarted.Task.WaitAsync(context.CancellationToken);
        });
        using var channel = server.CreateChannel();
        var client = new TesterClient(channel);

        var calls = Enumerable.Range(0, Calls).Select(_ => client.Duplex()).ToList();
        try
        {
            await allStarted.Task.Bounded();
            foreach (var call in calls)
            {
                await call.RequestStream.CompleteAsync().Bounded();
                (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
            }
        }
        finally
        {
            calls.ForEach(c => c.Dispose());
        }

        server.AcceptedConnections.Should().Be(2);
    }

    [Fact]
    public async Task Unary_CompletedCallNeverDisposed_IsCollected()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();
        // A caller token that outlives the calls, like a service's stopping token.
        using var longLived = new CancellationTokenSource();

        var headers = await RunCallsAsync(channel, longLived.Token);
        // The thread that completed the last call may still be unwinding its frames when this one resumes, and
        // shared generic code keeps the call's `this` alive for the whole frame. No signal says "that thread
        // left", so this polls (bounded); a call that stays registered is never collected however long it runs.
        var polling = Stopwatch.StartNew();
        while (headers.Any(h => h.IsAlive) && polling.Elapsed < Waits.Long)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Thread.Sleep(1);
        }

        // Each call holds its CallOptions (and so these headers) as long as the call itself is reachable.
        headers.Count(h => h.IsAlive).Should().Be(0, because: "a finished call must not stay registered on the channel's or the caller's token");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<List<WeakReference>> RunCallsAsync(GrpcChannel channel, CancellationToken token)
    {
        var client = new TesterClient(channel);
        var headers = new List<WeakReference>();
        for (var i = 0; i < 5; i++)
        {
            var metadata = new Metadata { { "n", "v" } };
            headers.Add(new WeakReference(metadata));
            await client.Unary(new TestRequest(), new CallOptions(Headers: metadata, CancellationToken: token, Deadline: DateTime.UtcNow.AddHours(1))).ResponseAsync.Bounded();
        }

        return headers;
    }
}
