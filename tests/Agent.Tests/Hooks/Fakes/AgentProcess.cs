using System.Diagnostics;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>Runs the built relay-agent (its apphost beside the tests, as Claude Code would run it) with stdin and environment.</summary>
internal static class AgentProcess
{
    /// <summary>The apphost, or null when the build produced none (then <c>dotnet relay-agent.dll</c> is used).</summary>
    public static string? AppHost => File.Exists(Path.Combine(AppContext.BaseDirectory, "relay-agent")) ? Path.Combine(AppContext.BaseDirectory, "relay-agent") : null;

    public static async Task<ProcessResult> RunAsync(
        IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment, string? stdin, CancellationToken cancellationToken, string? program = null)
    {
        var start = StartInfo(args, environment, program);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        clock.Stop();
        return new ProcessResult(process.ExitCode, await stdout, await stderr, clock.Elapsed);
    }

    /// <summary>Starts relay-agent without waiting (a daemon); stdin is closed.</summary>
    public static Process Start(IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var process = Process.Start(StartInfo(args, environment))!;
        process.StandardInput.Close();
        return process;
    }

    /// <summary>The command line to run relay-agent with <paramref name="args"/> (for a shell).</summary>
    public static string CommandLine(params string[] args) =>
        (AppHost is { } host ? Quote(host) : "dotnet " + Quote(Path.Combine(AppContext.BaseDirectory, "relay-agent.dll"))) + " " + string.Join(' ', args.Select(Quote));

    private static ProcessStartInfo StartInfo(IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment, string? program = null)
    {
        ProcessStartInfo start;
        if (program is not null)
        {
            start = new ProcessStartInfo(program);
        }
        else if (AppHost is { } host)
        {
            start = new ProcessStartInfo(host);
        }
        else
        {
            start = new ProcessStartInfo("dotnet");
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "relay-agent.dll"));
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>How a relay-agent process went.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);
