namespace Relay.Interop.Tests.Infrastructure;

/// <summary>
/// One stock interop server per transport (TCP and a Unix socket), started once per test class and
/// stopped on dispose: starting a Python or Node runtime per case would dominate the suite's time.
/// </summary>
public abstract class PeerServerFixture : IAsyncLifetime
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    private readonly Peer _peer;
    private readonly Dictionary<Transport, string> _targets = [];
    private readonly List<PeerProcess> _servers = [];
    private DirectoryInfo? _socketDir;

    protected PeerServerFixture(Peer peer)
    {
        _peer = peer;
    }

    /// <summary>The address a client dials for <paramref name="transport"/>.</summary>
    public string Target(Transport transport) => _targets[transport];

    public async Task InitializeAsync()
    {
        await Peers.EnsureInstalledAsync(_peer);
        _socketDir = Directory.CreateTempSubdirectory("relay-interop-");
        var unixPath = Path.Combine(_socketDir.FullName, _peer.ToString().ToLowerInvariant() + ".sock");

        // Both servers start at once; each waits for its own LISTENING line.
        var tcp = StartAsync("127.0.0.1:0");
        var unix = StartAsync("unix:" + unixPath);
        try
        {
            await Task.WhenAll(tcp, unix);
        }
        catch
        {
            // Stop whatever did start at once (DisposeAsync is idempotent, xunit may call it again).
            await DisposeAsync();
            throw;
        }

        _targets[Transport.Tcp] = "127.0.0.1:" + await tcp;
        _targets[Transport.Unix] = "unix:" + await unix;
    }

    public async Task DisposeAsync()
    {
        PeerProcess[] servers;
        lock (_servers)
        {
            servers = [.. _servers];
            _servers.Clear();
        }

        await Task.WhenAll(servers.Select(s => s.DisposeAsync().AsTask()));
        if (_socketDir is { Exists: true })
        {
            _socketDir.Delete(recursive: true);
        }

        _socketDir = null;
    }

    private async Task<string> StartAsync(string listen)
    {
        var server = await PeerProcess.StartAsync(_peer, "interop_server", ["--listen", listen]);
        lock (_servers)
        {
            _servers.Add(server);
        }

        using var cts = new CancellationTokenSource(s_startTimeout);
        try
        {
            // WaitAsync bounds the wait even if the pipe read ignores its token.
            while (await server.StandardOutput.ReadLineAsync(cts.Token).AsTask().WaitAsync(cts.Token) is { } line)
            {
                if (line.StartsWith("LISTENING ", StringComparison.Ordinal))
                {
                    return line["LISTENING ".Length..].Trim();
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new InvalidOperationException(
                $"The {_peer} interop server (--listen {listen}) printed no LISTENING line within {s_startTimeout.TotalSeconds} s. stderr:\n{server.Stderr}");
        }

        var exitCode = await server.WaitForExitAsync(TimeSpan.FromSeconds(5));
        throw new InvalidOperationException(
            $"The {_peer} interop server (--listen {listen}) exited ({exitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "hung"}) before listening. stderr:\n{server.Stderr}");
    }
}

/// <summary>grpc-core's interop server (python3-grpcio).</summary>
public sealed class PythonServerFixture() : PeerServerFixture(Peer.Python);

/// <summary>grpc-js's interop server.</summary>
public sealed class NodeServerFixture() : PeerServerFixture(Peer.Node);
