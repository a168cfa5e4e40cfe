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

    public string? GetEnvironmentVariable(string name) => environment(name) is { Length: > 0 } value ? value : null;

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

    public static CliContext FromProcess() => new(Console.Out, Console.Error, Console.In, Environment.GetEnvironmentVariable);
}
