using Relay.Broker.Tests.Infrastructure;

namespace Relay.Cli.Tests.Infrastructure;

/// <summary>What one relayctl invocation printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs relayctl in-process through <see cref="RelayCtl.BuildRootCommand"/> with its own writers, environment and
/// config directory, so tests never touch the real console, environment or home directory.
/// </summary>
internal sealed class CliHarness : IDisposable
{
    private readonly TempDirectory _home = new("relay-cli-home-");

    public CliHarness()
    {
        Directory.CreateDirectory(_home.Path);
        Environment["XDG_CONFIG_HOME"] = ConfigHome;
    }

    /// <summary>The environment relayctl sees (nothing from the real process).</summary>
    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public string ConfigHome => Path.Combine(_home.Path, "config");

    public string ProfilePath => Path.Combine(ConfigHome, "relay", "relayctl.json");

    public async Task<CliResult> RunAsync(params string[] args) => await RunWithInputAsync(string.Empty, args);

    public async Task<CliResult> RunWithInputAsync(string stdin, params string[] args)
    {
        using var timeout = TestTimeout.Start();
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var input = new StringReader(stdin);
        var context = new CliContext(output, error, input, name => Environment.GetValueOrDefault(name));
        var exitCode = await RelayCtl.InvokeAsync(RelayCtl.BuildRootCommand(context), args, context, timeout.Token);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    public void Dispose() => _home.Dispose();
}
