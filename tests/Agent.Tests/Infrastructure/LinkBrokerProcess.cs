using System.Diagnostics;
using System.Globalization;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Infrastructure;

/// <summary>
/// A real relay-broker process (the binary copied beside the tests) with its embedded PostgreSQL in a fresh data
/// directory, like tests/Cli.Tests' BrokerProcess, but one that can be killed with SIGKILL and started again on the same
/// data directory and port, as after a crash. Also hands out Admin clients with the broker's admin token.
/// </summary>
public sealed class LinkBrokerProcess : IAsyncLifetime
{
    private const string ListeningLine = "Now listening on: http://";

    private readonly TempDirectory _dataDirectory = new("relay-agent-broker-");
    private readonly List<string> _log = [];
    private TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Process? _process;
    private Task? _pump;

    /// <summary>The broker's gRPC address, e.g. <c>127.0.0.1:41234</c>; the same after a restart.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The admin token the broker created on its first start.</summary>
    public string AdminToken { get; private set; } = string.Empty;

    public Task InitializeAsync() => StartAsync("127.0.0.1:0");

    /// <summary>Starts the broker again on the same address and data directory (after <see cref="KillAsync"/>).</summary>
    public Task RestartAsync() => StartAsync(Address);

    /// <summary>SIGKILL: no drain, no goodbye; its PostgreSQL is left running, as after a real crash.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        await EndProcessAsync();
    }

    /// <summary>An Admin client authenticated with the admin token.</summary>
    public (Admin.AdminClient Client, GrpcChannel Channel, Metadata Headers) Admin()
    {
        var channel = GrpcChannel.ForAddress(Address);
        return (new Admin.AdminClient(channel), channel, new Metadata { { "authorization", "Bearer " + AdminToken } });
    }

    /// <summary>A new one-time enrolment token for a machine called <paramref name="machineName"/>.</summary>
    public async Task<string> CreateEnrollmentTokenAsync(string machineName, CancellationToken cancellationToken)
    {
        var (client, channel, headers) = Admin();
        using (channel)
        {
            var created = await client.CreateEnrollmentAsync(new CreateEnrollmentRequest { MachineName = machineName }, headers, cancellationToken: cancellationToken);
            return created.Token;
        }
    }

    public string Log()
    {
        lock (_log)
        {
            return string.Join('\n', _log.TakeLast(80));
        }
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            // SIGTERM, so the broker drains and stops its embedded PostgreSQL.
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!)
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

        await EndProcessAsync();
        StopLeftoverPostgres();
        _dataDirectory.Dispose();
    }

    private async Task StartAsync(string listen)
    {
        using var timeout = TestTimeout.Start();
        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _address = address;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "relay-broker.dll"), "run", "--listen", listen, "--data-dir", _dataDirectory.Path })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        // Tests enrol many machines from one address.
        start.Environment["RELAY_ACCESS__ENROLLATTEMPTSPERMINUTE"] = "0";
        // Short timings, so that liveness and shutdown paths finish quickly.
        start.Environment["RELAY_AGENTLINK__SHUTDOWNRETRYAFTER"] = "00:00:00.200";
        start.Environment["RELAY_AGENTLINK__HEARTBEATINTERVAL"] = "00:00:02";
        start.Environment["RELAY_AGENTLINK__PEERTIMEOUT"] = "00:00:10";
        start.Environment.Remove("RELAY_DATABASE__CONNECTIONSTRING");
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        _process = process;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => address.TrySetException(new InvalidOperationException("relay-broker exited before listening:\n" + Log())),
            TaskScheduler.Default);

        Address = await address.Task.WaitAsync(timeout.Token);
        if (AdminToken.Length == 0)
        {
            AdminToken = (await File.ReadAllTextAsync(Path.Combine(_dataDirectory.Path, "admin.token"), timeout.Token)).Trim();
        }
    }

    private async Task EndProcessAsync()
    {
        if (_pump is not null)
        {
            await _pump;
            _pump = null;
        }

        _process?.Dispose();
        _process = null;
    }

    // A broker that was killed and never restarted leaves its PostgreSQL running: stop it (fast shutdown).
    private void StopLeftoverPostgres()
    {
        if (!Directory.Exists(_dataDirectory.Path))
        {
            return;
        }

        foreach (var pidFile in Directory.EnumerateFiles(_dataDirectory.Path, "postmaster.pid", SearchOption.AllDirectories))
        {
            if (int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                using var kill = Process.Start("kill", ["-INT", pid.ToString(CultureInfo.InvariantCulture)])!;
                kill.WaitForExit();
            }
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

            var at = line.IndexOf(ListeningLine, StringComparison.Ordinal);
            if (at >= 0)
            {
                _address.TrySetResult(line[(at + ListeningLine.Length)..].Trim());
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LinkBrokerCollection : ICollectionFixture<LinkBrokerProcess>
{
    public const string Name = "relay-broker (agent link)";
}
