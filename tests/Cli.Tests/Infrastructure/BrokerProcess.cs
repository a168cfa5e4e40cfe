using System.Diagnostics;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Cli.Tests.Infrastructure;

/// <summary>
/// A real relay-broker process (the binary copied beside the tests) on a loopback port with its embedded PostgreSQL
/// cluster in a fresh data directory: exactly what an operator runs. relayctl talks to it over real sockets.
/// </summary>
public sealed class BrokerProcess : IAsyncLifetime
{
    private const string ListeningLine = "Now listening on: ";

    private readonly TempDirectory _dataDirectory = new("relay-cli-broker-");
    private readonly IReadOnlyList<string> _extraArguments;
    private readonly TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _log = [];
    private Process? _process;
    private Task? _pump;

    public BrokerProcess()
        : this([])
    {
    }

    /// <summary>A broker started with more arguments, e.g. <c>--tls-cert</c> and <c>--tls-key</c>.</summary>
    internal BrokerProcess(IReadOnlyList<string> extraArguments) => _extraArguments = extraArguments;

    /// <summary>The broker's gRPC address, e.g. <c>127.0.0.1:41234</c>.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The admin token the broker created on its first start.</summary>
    public string AdminToken { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        using var timeout = TestTimeout.Start();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "relay-broker.dll"), "run", "--listen", "127.0.0.1:0", "--data-dir", _dataDirectory.Path }.Concat(_extraArguments))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        start.Environment.Remove("RELAY_DATABASE__CONNECTIONSTRING");
        _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        _pump = Task.WhenAll(PumpAsync(_process.StandardOutput), PumpAsync(_process.StandardError));
        _ = _process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => _address.TrySetException(new InvalidOperationException("relay-broker exited before listening:\n" + Log())),
            TaskScheduler.Default);

        Address = await _address.Task.WaitAsync(timeout.Token);
        AdminToken = (await File.ReadAllTextAsync(Path.Combine(_dataDirectory.Path, "admin.token"), timeout.Token)).Trim();
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            // SIGTERM, so the broker drains and stops its embedded PostgreSQL; SIGKILL would leave the cluster running.
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        if (_pump is not null)
        {
            await _pump;
        }

        _process?.Dispose();
        _dataDirectory.Dispose();
    }

    private string Log()
    {
        lock (_log)
        {
            return string.Join('\n', _log);
        }
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_log)
            {
                _log.Add(line);
            }

            // "Now listening on: http://127.0.0.1:41234" (https:// with TLS); Address is host:port either way.
            var at = line.IndexOf(ListeningLine, StringComparison.Ordinal);
            var scheme = at < 0 ? -1 : line.IndexOf("://", at, StringComparison.Ordinal);
            if (scheme >= 0)
            {
                _address.TrySetResult(line[(scheme + 3)..].Trim());
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BrokerCollection : ICollectionFixture<BrokerProcess>
{
    public const string Name = "relay-broker";
}
