using System.CommandLine;
using Relay.Protocol.Local;

namespace Relay.Agent.Launch;

/// <summary><c>relay-agent launch [--cwd &lt;dir&gt;] [--name &lt;name&gt;] [--prompt &lt;text&gt;] [--json] [-- &lt;claude args&gt;]</c>.</summary>
internal static class LaunchCommand
{
    public static Command Create()
    {
        var cwd = new Option<string?>("--cwd") { Description = "Directory to start Claude in (default: the current directory)." };
        var name = new Option<string?>("--name") { Description = "Session name (also names the tmux session)." };
        var prompt = new Option<string?>("--prompt") { Description = "First prompt, delivered through the channel once Claude is up." };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON." };
        var timeout = new Option<int>("--timeout")
        {
            Description = "Seconds to wait for the daemon's answer.",
            DefaultValueFactory = _ => 120,
        };
        var claudeArguments = new Argument<string[]>("claude-args")
        {
            Description = "Extra arguments for claude, after '--'.",
            Arity = ArgumentArity.ZeroOrMore,
        };

        var command = new Command("launch", "Start an interactive Claude Code session in tmux, through the running agent.")
        {
            cwd, name, prompt, json, timeout, claudeArguments,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            var directory = Path.GetFullPath(result.GetValue(cwd) ?? Environment.CurrentDirectory);
            if (!Directory.Exists(directory))
            {
                await error.WriteLineAsync("relay-agent: " + directory + " is not a directory.");
                return 2;
            }

            var seconds = result.GetValue(timeout);
            if (seconds is < 1 or > 3600)
            {
                await error.WriteLineAsync("relay-agent: --timeout must be between 1 and 3600 seconds.");
                return 2;
            }

            var request = new LaunchRequestOptions(
                directory,
                result.GetValue(name),
                result.GetValue(prompt),
                result.GetValue(claudeArguments) ?? [],
                result.GetValue(json),
                TimeSpan.FromSeconds(seconds));
            return await LaunchClient.RunAsync(
                request,
                LocalAgentPaths.Socket(),
                TmuxSocketName(),
                result.InvocationConfiguration.Output,
                error,
                cancellationToken);
        });
        return command;
    }

    // The daemon's tmux socket name, as its configuration (environment variable form) sets it.
    private static string TmuxSocketName() =>
        Environment.GetEnvironmentVariable("Agent__Launcher__TmuxSocketName") is { Length: > 0 } name ? name : new LauncherOptions().TmuxSocketName;
}
