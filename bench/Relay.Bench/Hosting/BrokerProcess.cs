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

    private readonly Process _process;
    private readonly TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _log = [];
    private readonly Task _pump;

    private BrokerProcess(Process process, string dataDirectory, string? database)
    {
        _process = process;
        DataDirectory = dataDirectory;
        ConnectionString = database ?? new NpgsqlConnectionStringBuilder
        {
            Host = Path.Combine(dataDirectory, "postgres", "run"),
            Username = "postgres",
            Database = "relay",
            Pooling = true,
        }.ConnectionString;
        Embedded = database is null;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
    }

    public string DataDirectory { get; }

    /// <summary>The broker's database (the embedded cluster's "relay" database over its Unix socket, or --database).</summary>
    public string ConnectionString { get; }

    public bool Embedded { get; }

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
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        List<string> args = [Path.Combine(AppContext.BaseDirectory, "relay-broker.dll"), "run", "--listen", "127.0.0.1:0", "--data-dir", dataDirectory];
        if (database is not null)
        {
            args.AddRange(["--database", database]);
        }

        args.ForEach(start.ArgumentList.Add);
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        start.Environment.Remove("RELAY_DATABASE__CONNECTIONSTRING");
        foreach (var (key, value) in settings)
        {
            start.Environment["RELAY_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var broker = new BrokerProcess(process, dataDirectory, database);
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => broker._address.TrySetException(new InvalidOperationException("relay-broker exited before listening:\n" + broker.Log())),
            TaskScheduler.Default);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            broker.Address = "http://" + await broker._address.Task.WaitAsync(timeout.Token);
            broker.AdminToken = (await File.ReadAllTextAsync(Path.Combine(dataDirectory, "admin.token"), timeout.Token)).Trim();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>The broker's log so far (warnings and errors), for failure messages.</summary>
    public string Log()
    {
        lock (_log)
        {
            return string.Join('\n', _log.TakeLast(50));
        }
    }

    public async ValueTask DisposeAsync()
    {
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

        await _pump;
        _process.Dispose();
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            lock (_log)
            {
                _log.Add(line);
                if (_log.Count > 1000)
                {
                    _log.RemoveRange(0, 500);
                }
            }

            var at = line.IndexOf(ListeningLine, StringComparison.Ordinal);
            if (at >= 0)
            {
                _address.TrySetResult(line[(at + ListeningLine.Length)..].Trim());
            }
        }
    }
}
