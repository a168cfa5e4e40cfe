using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// Runs the real Claude Code CLI in print mode (<c>claude -p</c>) as a child process against a
/// <see cref="MessagesApiStub"/>, in a <see cref="ClaudeCodeHome"/>, bounded by a timeout.
/// </summary>
public static class ClaudeCodeCli
{
    /// <summary>
    /// Runs <c>claude -p</c> to completion. Throws <see cref="TimeoutException"/> (with stdout and stderr) when the
    /// run outlives <see cref="ClaudeCodeRunOptions.Timeout"/>; the process tree is killed first.
    /// </summary>
    public static async Task<ClaudeCodeRunResult> RunAsync(
        ClaudeCodeHome home, Uri apiBaseUrl, ClaudeCodeRunOptions options, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(ClaudeCodeInstallation.EntryPoint)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = options.WorkingDirectory ?? home.ProjectDirectory,
        };
        foreach (var arg in BuildArguments(home, options))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (var (name, value) in ClaudeCodeEnvironment.Build(home, apiBaseUrl, options.Environment))
        {
            start.Environment[name] = value;
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("claude did not start.");
        // -p reads a piped stdin as part of the prompt: close it so Claude never waits on it.
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            var partial = new ClaudeCodeRunResult(-1, await stdout, await stderr, stopwatch.Elapsed, options.SessionId);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException(
                $"claude -p did not finish within {options.Timeout.TotalSeconds:F0} s and was killed " +
                $"(args: {string.Join(' ', start.ArgumentList)}).\n{partial.Describe()}");
        }

        return new ClaudeCodeRunResult(process.ExitCode, await stdout, await stderr, stopwatch.Elapsed, options.SessionId);
    }

    /// <summary>The command line (without the executable) a run uses; also used by <see cref="ClaudeCodeTmux"/>.</summary>
    internal static List<string> BuildArguments(ClaudeCodeHome home, ClaudeCodeRunOptions options, bool printMode = true)
    {
        var args = new List<string>();
        if (printMode)
        {
            args.Add("-p");
            args.Add(options.Prompt);
            args.Add("--output-format");
            args.Add(options.OutputFormat switch
            {
                ClaudeCodeOutputFormat.Text => "text",
                ClaudeCodeOutputFormat.Json => "json",
                _ => "stream-json",
            });
            if (options.OutputFormat == ClaudeCodeOutputFormat.StreamJson)
            {
                // Print mode refuses stream-json without --verbose (reference §3.1).
                args.Add("--verbose");
            }
        }

        args.Add(options.Resume ? "--resume" : "--session-id");
        args.Add(options.SessionId.ToString());
        if (options.Settings is not null)
        {
            args.Add("--settings");
            args.Add(WriteJson(home, "settings", options.Settings));
        }

        if (options.McpConfig is not null)
        {
            args.Add("--mcp-config");
            args.Add(WriteJson(home, "mcp", options.McpConfig));
        }

        if (options.AllowedTools.Count > 0)
        {
            args.Add("--allowedTools");
            args.Add(string.Join(',', options.AllowedTools));
        }

        if (options.DebugFile is not null)
        {
            args.Add("--debug-file");
            args.Add(options.DebugFile);
        }

        args.AddRange(options.ExtraArguments);
        return args;
    }

    private static string WriteJson(ClaudeCodeHome home, string kind, JsonObject content)
    {
        var path = home.PathFor($"{kind}-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, content.ToJsonString());
        return path;
    }
}
