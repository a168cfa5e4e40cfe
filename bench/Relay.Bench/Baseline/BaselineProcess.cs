using System.Diagnostics;
using System.Globalization;

namespace Relay.Bench.Baseline;

/// <summary>The baseline server as a process of its own: this program started with <c>baseline-server</c>.</summary>
internal sealed class BaselineProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task _pump;
    private readonly TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BaselineProcess(Process process)
    {
        _process = process;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
    }

    public int Pid => _process.Id;

    public string Address { get; private set; } = string.Empty;

    public static async Task<BaselineProcess> StartAsync(string connectionString, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "relay-bench.dll"));
        start.ArgumentList.Add(BaselineServer.Command);
        start.Environment["RELAY_BENCH_BASELINE_DATABASE"] = connectionString;
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        var baseline = new BaselineProcess(process);
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => baseline._address.TrySetException(new InvalidOperationException("the baseline server exited before listening")), TaskScheduler.Default);
        try
        {
            baseline.Address = await baseline._address.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            return baseline;
        }
        catch
        {
            await baseline.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
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
            if (line.StartsWith(BaselineServer.ListeningLine, StringComparison.Ordinal))
            {
                _address.TrySetResult(line[BaselineServer.ListeningLine.Length..].Trim());
            }
            else
            {
                Console.Error.WriteLine("  [baseline] " + line);
            }
        }
    }
}
