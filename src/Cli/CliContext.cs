namespace Relay.Cli;

/// <summary>
/// Everything relayctl takes from the process: the console, the environment and the config directory. Tests build
/// their own so that nothing touches the real console, environment or home directory.
/// </summary>
internal sealed class CliContext(TextWriter output, TextWriter error, TextReader input, Func<string, string?> environment)
{
    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public TextReader Input { get; } = input;

    /// <summary>True when stdout is a terminal: tables may use colour (unless NO_COLOR is set).</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>True when stderr is a terminal: waits show a spinner there instead of a one-line note.</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>The clock for spinners and relative times; tests may substitute their own.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public string? GetEnvironmentVariable(string name) => environment(name) is { Length: > 0 } value ? value : null;

    /// <summary>Colour is for people at a terminal, and never when NO_COLOR is set (https://no-color.org).</summary>
    public bool UseColor => OutputIsTerminal && GetEnvironmentVariable("NO_COLOR") is null && GetEnvironmentVariable("TERM") != "dumb";

    /// <summary>The directory holding relayctl.json: $XDG_CONFIG_HOME/relay, else ~/.config/relay.</summary>
    public string ConfigDirectory
    {
        get
        {
            var root = GetEnvironmentVariable("XDG_CONFIG_HOME")
                ?? Path.Combine(GetEnvironmentVariable("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            return Path.Combine(root, "relay");
        }
    }

    public static CliContext FromProcess() => new(Console.Out, Console.Error, Console.In, Environment.GetEnvironmentVariable)
    {
        OutputIsTerminal = !Console.IsOutputRedirected,
        ErrorIsTerminal = !Console.IsErrorRedirected,
    };
}
