using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Config;
using Relay.Agent.Doctor;
using Relay.Agent.Install;
using Relay.Agent.Tests.Launch;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Doctor;

/// <summary><c>relay-agent doctor</c> on a fake HOME and PATH, against a fake daemon on a real socket.</summary>
public sealed class MachineDoctorTests : IDisposable
{
    private readonly TempDirectory _root = new("relay-doctor-");
    private readonly string _home;
    private readonly string _bin;
    private readonly AgentConfigStore _store;

    public MachineDoctorTests()
    {
        _home = Path.Combine(_root.Path, "home");
        _bin = Path.Combine(_root.Path, "bin");
        Directory.CreateDirectory(_home);
        Directory.CreateDirectory(_bin);
        _store = new AgentConfigStore(Path.Combine(_root.Path, "config"));
    }

    private string SocketPath => Path.Combine(_root.Path, "agent.sock");

    private ClaudeConfigPaths ClaudePaths => ClaudeConfigPaths.FromEnvironment(n => n == "HOME" ? _home : null);

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task RunAsync_EverythingInPlace_AllChecksOk()
    {
        FakeClaude("2.1.328 (Claude Code)");
        using var hookEndpoint = new TcpListener(IPAddress.Loopback, 0);
        hookEndpoint.Start();
        var config = Enrol(((IPEndPoint)hookEndpoint.LocalEndpoint).Port);
        Install(config);
        await using var daemon = await FakeAgentDaemon.StartAsync(SocketPath);
        daemon.Status = new AgentStatusResponse
        {
            AgentVersion = "0.1.0",
            BrokerAddress = "https://broker:7443",
            Link = new BrokerLinkState { Connected = true, ConnectedSince = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) },
        };

        var checks = await RunAsync();

        checks.Should().OnlyContain(c => c.Status == CheckStatus.Ok, Describe(checks));
        checks.Select(c => c.Name).Should().Equal("claude", "tmux", "enrolment", "daemon", "broker link", "hooks", "channel server", "hook endpoint");
        checks[0].Detail.Should().StartWith("2.1.328 at " + Path.Combine(_bin, "claude"));
        DoctorCommand.ExitCode(checks).Should().Be(0);
    }

    [Fact]
    public async Task RunAsync_NothingSetUp_FailsEachWithAFix()
    {
        // Not enrolled; only a hook port nobody listens on (the default one may be in use on this machine).
        _store.Save(new AgentConfig { HookPort = ClosedPort() });

        var checks = await RunAsync(path: _bin);

        DoctorCommand.ExitCode(checks).Should().Be(1);
        Status(checks, "claude").Should().Be(CheckStatus.Fail);
        Status(checks, "tmux").Should().Be(CheckStatus.Fail);
        Status(checks, "enrolment").Should().Be(CheckStatus.Fail);
        Status(checks, "daemon").Should().Be(CheckStatus.Fail);
        Status(checks, "broker link").Should().Be(CheckStatus.Warn);
        Status(checks, "hooks").Should().Be(CheckStatus.Fail);
        Status(checks, "channel server").Should().Be(CheckStatus.Fail);
        Status(checks, "hook endpoint").Should().Be(CheckStatus.Fail);
        checks.Where(c => c.Status != CheckStatus.Ok).Should().OnlyContain(c => !string.IsNullOrEmpty(c.Fix));

        using var output = new StringWriter();
        DoctorCommand.Print(checks, json: false, output);
        var lines = output.ToString().Split('\n');
        lines.Should().Contain(l => l.StartsWith("FAIL  claude ", StringComparison.Ordinal) && l.Contains("not on PATH", StringComparison.Ordinal));
        lines.Should().Contain(l => l.TrimStart().StartsWith("fix: relay-agent enroll", StringComparison.Ordinal));
        lines.Should().Contain(l => l.StartsWith("WARN  broker link", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_ClaudeTooOld_Fails()
    {
        FakeClaude("2.1.50 (Claude Code)");

        var checks = await RunAsync();

        var claude = checks.Single(c => c.Name == "claude");
        claude.Status.Should().Be(CheckStatus.Fail);
        claude.Detail.Should().Contain("2.1.50").And.Contain("too old").And.Contain("2.1.80");
    }

    [Fact]
    public async Task RunAsync_HooksFromAnotherSecretAndPort_FailsAsStale()
    {
        FakeClaude("2.1.328 (Claude Code)");
        var config = Enrol(7471);
        Install(config with { HookSecret = "an-old-secret", HookPort = 7000 });

        var checks = await RunAsync();

        var hooks = checks.Single(c => c.Name == "hooks");
        hooks.Status.Should().Be(CheckStatus.Fail);
        hooks.Detail.Should().Contain("24 hooks do not call http://127.0.0.1:7471/hooks with the current secret");
        hooks.Fix.Should().Be("relay-agent install");
        Status(checks, "channel server").Should().Be(CheckStatus.Ok);
    }

    [Fact]
    public async Task RunAsync_ChannelProgramGone_FailsTheChannelCheck()
    {
        var config = Enrol(7471);
        var channel = Install(config);
        File.Delete(channel);

        var checks = await RunAsync();

        var server = checks.Single(c => c.Name == "channel server");
        server.Status.Should().Be(CheckStatus.Fail);
        server.Detail.Should().Contain(channel).And.Contain("does not exist");
    }

    [Fact]
    public async Task RunAsync_BrokerLinkDown_WarnsWithTheLastError()
    {
        await using var daemon = await FakeAgentDaemon.StartAsync(SocketPath);
        daemon.Status = new AgentStatusResponse
        {
            AgentVersion = "0.1.0",
            BrokerAddress = "https://broker:7443",
            Link = new BrokerLinkState { Connected = false, LastError = "connection refused" },
        };

        var checks = await RunAsync();

        Status(checks, "daemon").Should().Be(CheckStatus.Ok);
        var link = checks.Single(c => c.Name == "broker link");
        link.Status.Should().Be(CheckStatus.Warn);
        link.Detail.Should().Contain("connection refused");
    }

    [Fact]
    public async Task Print_Json_IsOneDocumentWithEveryCheck()
    {
        var checks = await RunAsync();
        using var output = new StringWriter();

        DoctorCommand.Print(checks, json: true, output);

        var json = JsonNode.Parse(output.ToString())!.AsObject();
        json["ok"]!.GetValue<bool>().Should().BeFalse();
        json["checks"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()).Should().Equal(checks.Select(c => c.Name));
        json["checks"]![2]!["status"]!.GetValue<string>().Should().Be("fail");
    }

    private async Task<IReadOnlyList<DoctorCheck>> RunAsync(string? path = null)
    {
        using var timeout = TestTimeout.Start();
        path ??= _bin + ":" + Environment.GetEnvironmentVariable("PATH");
        var setting = new DoctorSetting(
            name => name switch { "PATH" => path, "HOME" => _home, _ => null },
            ClaudePaths,
            _store,
            SocketPath,
            "claude",
            "tmux");
        return await new MachineDoctor(setting).RunAsync(timeout.Token);
    }

    private void FakeClaude(string versionLine)
    {
        var claude = Path.Combine(_bin, "claude");
        File.WriteAllText(claude, "#!/bin/sh\n[ \"$1\" = --version ] && echo '" + versionLine + "' && exit 0\nexit 1\n");
        File.SetUnixFileMode(claude, (UnixFileMode)0b111_101_101);
    }

    private AgentConfig Enrol(int hookPort)
    {
        _store.Save(new AgentConfig
        {
            BrokerAddress = "https://broker:7443",
            MachineId = "m_1",
            MachineName = "devbox",
            Credential = "cred",
            HookSecret = "relay_hook_doctor",
            HookPort = hookPort,
        });
        return _store.Load();
    }

    // Installs with the real installer; returns the relay-channel stand-in's path.
    private string Install(AgentConfig config)
    {
        var programs = Path.Combine(_root.Path, "opt");
        Directory.CreateDirectory(programs);
        var agent = Path.Combine(programs, "relay-agent");
        var channel = Path.Combine(programs, "relay-channel");
        foreach (var program in new[] { agent, channel })
        {
            File.WriteAllText(program, "#!/bin/sh\n");
            File.SetUnixFileMode(program, (UnixFileMode)0b111_101_101);
        }

        var plan = new InstallPlan(config.HookUrl, config.HookSecret!, 10, 60, new ProgramCommand(agent, []), new ProgramCommand(channel, []));
        new ClaudeInstaller(ClaudePaths, TimeProvider.System, n => n == "HOME" ? _home : null)
            .Install(plan, dryRun: false, TextWriter.Null, TextWriter.Null).Should().Be(0);
        return channel;
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static CheckStatus Status(IReadOnlyList<DoctorCheck> checks, string name) => checks.Single(c => c.Name == name).Status;

    private static string Describe(IReadOnlyList<DoctorCheck> checks) =>
        string.Join("\n", checks.Select(c => c.Status + " " + c.Name + ": " + c.Detail));
}
