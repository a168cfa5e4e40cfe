using System.Diagnostics;

namespace Relay.Tests.Shared;

/// <summary>Runs one of Relay's programs (copied beside the test assembly) as a real process.</summary>
internal static class ProgramRunner
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string assemblyName, params string[] args) =>
        RunAsync(assemblyName, new Dictionary<string, string?>(), args);

    /// <summary>
    /// Runs the program with <paramref name="environment"/> on top of the test process's own (a null value removes a
    /// variable); the process tree is killed when it outlives <paramref name="timeout"/> (default 60 s).
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        string assemblyName, IReadOnlyDictionary<string, string?> environment, IReadOnlyList<string> args, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start)!;
        using var bound = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException(
                $"{assemblyName} {string.Join(' ', args)} did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:F0} s and was killed.\n" +
                $"stdout: {await stdout}\nstderr: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
