using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Relay.Bench.Hosting;

/// <summary>
/// A real relay-broker process (the binary copied beside relay-bench) on a loopback port: with its embedded PostgreSQL
/// in a data directory of this run, or on <c>--database</c>. Exactly what an operator runs, so its CPU and memory are
/// the broker's alone.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private const string ListeningLine = "Now listening on: http://";

    private readonly LogTail _log = new();
    private readonly IReadOnlyDictionary<string, string> _settings;
    private Process _process = null!;
    private TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _pump = Task.CompletedTask;

    private BrokerProcess(string dataDirectory, string? database, IReadOnlyDictionary<string, string> settings)
    {
        _settings = settings;
        DataDirectory = dataDirectory;
        ConnectionString = database ?? new NpgsqlConnectionStringBuilder
        {
            Host = Path.Combine(dataDirectory, "postgres", "run"),
            Username = "postgres",
            Database = "relay",
            Pooling = true,
        }.ConnectionString;
        Embedded = database is null;
        Database = database;
    }

    public string DataDirectory { get; }

    /// <summary>The broker's database (the embedded cluster's "relay" database over its Unix socket, or --database).</summary>
    public string ConnectionString { get; }

    public bool Embedded { get; }

    /// <summary>--database, when the broker does not run its embedded PostgreSQL.</summary>
    public string? Database { get; }

    /// <summary>The broker's gRPC address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>The admin token the broker wrote on its first start.</summary>
    public string AdminToken { get; private set; } = string.Empty;

    public int Pid => _process.Id;

    /// <summary>The embedded PostgreSQL's postmaster, whose children are the backends; null with --database.</summary>
    public int? PostgresPid
    {
        get
        {
            var file = Path.Combine(DataDirectory, "postgres", "data", "postmaster.pid");
            try
            {
                return Embedded && File.Exists(file)
                    && int.TryParse(File.ReadLines(file).First(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>Starts the broker and waits until it listens. <paramref name="settings"/> become RELAY_ environment variables.</summary>
    public static async Task<BrokerProcess> StartAsync(string dataDirectory, string? database, IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var broker = new BrokerProcess(dataDirectory, database, settings);
        try
        {
            await broker.LaunchAsync("127.0.0.1:0", cancellationToken);
            broker.AdminToken = (await File.ReadAllTextAsync(Path.Combine(dataDirectory, "admin.token"), cancellationToken)).Trim();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// SIGKILL: no drain, no goodbye, as after a crash. The embedded PostgreSQL is left running (it is not the broker's
    /// child process group), as it would be; <see cref="RestartAsync"/> takes it over again.
    /// </summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        await _pump;
    }

    /// <summary>Starts the broker again on the same address and data directory (after <see cref="KillAsync"/>) and waits until it listens.</summary>
    public Task RestartAsync(CancellationToken cancellationToken)
    {
        if (!_process.HasExited)
        {
            throw new InvalidOperationException($"relay-broker is still running (pid {_process.Id}); kill it first.");
        }

        _process.Dispose();
        return LaunchAsync(Address["http://".Length..], cancellationToken);
    }

    private async Task LaunchAsync(string listen, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        List<string> args = [Path.Combine(AppContext.BaseDirectory, "relay-broker.dll"), "run", "--listen", listen, "--data-dir", DataDirectory];
        if (Database is not null)
        {
            args.AddRange(["--database", Database]);
        }

        args.ForEach(start.ArgumentList.Add);
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        start.Environment.Remove("RELAY_DATABASE__CONNECTIONSTRING");
        foreach (var (key, value) in _settings)
        {
            start.Environment["RELAY_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var address = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _address = address;
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        _process = process;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => address.TrySetException(new InvalidOperationException("relay-broker exited before listening:\n" + Log())),
            TaskScheduler.Default);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        Address = "http://" + await address.Task.WaitAsync(timeout.Token);
    }

    /// <summary>The broker's log so far (warnings and errors), for failure messages.</summary>
    public string Log() => _log.Last(50);

    public async ValueTask DisposeAsync()
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            // SIGTERM, so the broker drains and stops its embedded PostgreSQL; SIGKILL would leave the cluster running.
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        else if (PostgresPid is { } postgres)
        {
            // Killed and never restarted: its PostgreSQL still runs. Fast shutdown.
            using var stop = Process.Start("kill", ["-INT", postgres.ToString(CultureInfo.InvariantCulture)])!;
            await stop.WaitForExitAsync();
            for (var i = 0; i < 100 && File.Exists(Path.Combine(DataDirectory, "postgres", "data", "postmaster.pid")); i++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }
        }

        await _pump;
        _process.Dispose();
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            _log.Add(line);

            var at = line.IndexOf(ListeningLine, StringComparison.Ordinal);
            if (at >= 0)
            {
                _address.TrySetResult(line[(at + ListeningLine.Length)..].Trim());
            }
        }
    }
}
