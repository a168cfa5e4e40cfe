using Relay.Agent.Install;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Install;

/// <summary>A temporary HOME with Claude Code's two user files, relay-agent and relay-channel stand-ins, and an installer for it.</summary>
internal sealed class InstallerTestBed : IDisposable
{
    private readonly TempDirectory _root = new("relay-install-");

    public InstallerTestBed()
    {
        Home = Path.Combine(_root.Path, "home");
        Directory.CreateDirectory(Path.Combine(Home, ".claude"));
        var bin = Path.Combine(_root.Path, "opt", "relay");
        Directory.CreateDirectory(bin);
        AgentPath = Executable(Path.Combine(bin, "relay-agent"));
        ChannelPath = Executable(Path.Combine(bin, "relay-channel"));
        Paths = ClaudeConfigPaths.FromEnvironment(Variable);
    }

    public string Home { get; }

    public string AgentPath { get; }

    public string ChannelPath { get; }

    public ClaudeConfigPaths Paths { get; }

    public string SettingsFile => Paths.SettingsFile;

    public string StateFile => Paths.StateFile;

    public InstallPlan Plan(string secret = "relay_hook_0123456789abcdef", int port = 7471) => new(
        "http://127.0.0.1:" + port + "/hooks",
        secret,
        10,
        60,
        new ProgramCommand(AgentPath, []),
        new ProgramCommand(ChannelPath, []));

    public (int ExitCode, string Output, string Error) Install(InstallPlan? plan = null, bool dryRun = false, DateTimeOffset? at = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = Installer(at).Install(plan ?? Plan(), dryRun, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    public (int ExitCode, string Output, string Error) Uninstall(bool dryRun = false, DateTimeOffset? at = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = Installer(at).Uninstall(dryRun, output, error);
        return (exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Every file under HOME with its bytes, to prove nothing else was written.</summary>
    public Dictionary<string, string> Snapshot() =>
        Directory.EnumerateFiles(Home, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(Home, f), f => Convert.ToBase64String(File.ReadAllBytes(f)));

    public void Dispose() => _root.Dispose();

    private ClaudeInstaller Installer(DateTimeOffset? at) =>
        new(Paths, new FixedTimeProvider(at ?? new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero)), Variable);

    private string? Variable(string name) => name == "HOME" ? Home : null;

    private static string Executable(string path)
    {
        File.WriteAllText(path, "#!/bin/sh\nexit 0\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
        return path;
    }
}
