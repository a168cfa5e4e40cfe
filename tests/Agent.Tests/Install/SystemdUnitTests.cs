using System.Diagnostics;
using Relay.Agent.Launch;
using Relay.Broker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Relay.Agent.Tests.Install;

/// <summary>deploy/systemd/relay-agent.service is a valid user unit that keeps launched sessions alive.</summary>
public sealed class SystemdUnitTests(ITestOutputHelper output)
{
    private static readonly string UnitFile = Path.Combine(Repository.Root, "deploy", "systemd", "relay-agent.service");

    [Fact]
    public void Unit_RunsTheAgentAndLeavesTmuxSessionsAlone()
    {
        var lines = File.ReadAllLines(UnitFile).Select(l => l.Trim()).ToList();

        lines.Should().Contain("ExecStart=%h/.local/bin/relay-agent run")
            .And.Contain("Restart=on-failure")
            .And.Contain("KillMode=process", "stopping the agent must not kill the Claude sessions in its tmux server")
            .And.Contain("WantedBy=default.target");
        lines.Should().NotContain(l => l.StartsWith("PrivateTmp=yes", StringComparison.Ordinal) || l.StartsWith("NoNewPrivileges=yes", StringComparison.Ordinal));
    }

    [Fact]
    public void Unit_StartsTheDaemonWithItsRuntimeSettings()
    {
        var lines = File.ReadAllLines(UnitFile).Select(l => l.Trim()).ToList();

        foreach (var (name, value) in Relay.Agent.Hosting.RunCommand.DaemonRuntimeSettings)
        {
            lines.Should().Contain($"Environment={name}={value}", "the unit and RunCommand (which keeps them from the daemon's children) must agree");
        }
    }

    [Fact]
    public async Task Unit_PassesSystemdAnalyzeVerify()
    {
        if (ExecutableSearch.Find("systemd-analyze", Environment.GetEnvironmentVariable("PATH")) is not { } analyze)
        {
            output.WriteLine("systemd-analyze is not installed: the unit was not verified (apt install systemd).");
            return;
        }

        using var home = new TempDirectory("relay-unit-");
        var bin = Path.Combine(home.Path, ".local", "bin");
        var runtime = Path.Combine(home.Path, "run");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(runtime, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // verify checks that ExecStart's program exists: put one where %h/.local/bin/relay-agent points.
        File.WriteAllText(Path.Combine(bin, "relay-agent"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(bin, "relay-agent"), (UnixFileMode)0b111_101_101);
        var unit = Path.Combine(home.Path, "relay-agent.service");
        File.Copy(UnitFile, unit);

        var start = new ProcessStartInfo(analyze) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--user", "verify", unit })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["HOME"] = home.Path;
        start.Environment["XDG_RUNTIME_DIR"] = runtime;
        using var process = Process.Start(start)!;
        using var timeout = TestTimeout.Start();
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);

        // Unknown keys and bad values are only warnings (exit 0): any output at all is a finding.
        process.ExitCode.Should().Be(0, await stderr);
        (await stdout + await stderr).Trim().Should().BeEmpty();
    }
}
