using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Relay.Tests.Shared;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Infrastructure;

/// <summary>
/// One "machine": its own HOME (a <see cref="ClaudeCodeHome"/>), relay-agent configuration and state directories,
/// Unix socket, hook port and tmux server, enrolled with <c>relayctl machines enroll</c> + <c>relay-agent enroll</c>,
/// wired into Claude Code with <c>relay-agent install</c>, and a <c>relay-agent run</c> daemon.
/// </summary>
internal sealed class RelayMachine : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private readonly Dictionary<string, string> _agentEnvironment;

    public RelayMachine(string name, Uri launchApiBaseUrl)
    {
        Name = name + "-" + Guid.NewGuid().ToString("N")[..6];
        Home = new ClaudeCodeHome("relay-e2e-" + name + "-");
        Directory.CreateDirectory(BinDirectory);
        HookPort = FreePort();
        TmuxSocketName = "relay-e2e-" + Guid.NewGuid().ToString("N")[..8];
        ClaudeEnvironment = new Dictionary<string, string?>
        {
            ["RELAY_AGENT_CONFIG_DIR"] = ConfigDirectory,
            ["RELAY_AGENT_STATE_DIR"] = StateDirectory,
            ["RELAY_AGENT_SOCKET"] = SocketPath,
        };
        // The daemon gets what a Claude process of this machine gets (so that a launched Claude talks to the stub), plus
        // short link and liveness timings for the tests.
        _agentEnvironment = ClaudeCodeEnvironment.Build(Home, launchApiBaseUrl, new Dictionary<string, string?>(ClaudeEnvironment)
        {
            ["PATH"] = BinDirectory + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["XDG_RUNTIME_DIR"] = null,
            ["RELAY_AGENT__LINK__INITIALBACKOFF"] = "00:00:00.100",
            ["RELAY_AGENT__LINK__MAXBACKOFF"] = "00:00:00.500",
            ["RELAY_AGENT__LOCAL__TICKINTERVAL"] = "00:00:00.500",
            ["RELAY_AGENT__LAUNCHER__TMUXSOCKETNAME"] = TmuxSocketName,
            ["Logging__LogLevel__Default"] = "Information",
            ["Logging__LogLevel__Microsoft"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
        });
        Daemon = new AgentDaemon(_agentEnvironment.ToDictionary(e => e.Key, e => (string?)e.Value));
    }

    /// <summary>The machine name it is enrolled under (unique per run).</summary>
    public string Name { get; }

    /// <summary>The broker's machine id, after <see cref="StartAsync"/>.</summary>
    public string MachineId { get; private set; } = string.Empty;

    /// <summary>HOME of the agent and of every Claude process of this machine.</summary>
    public ClaudeCodeHome Home { get; }

    /// <summary>Prepended to the agent's PATH (the launcher finds <c>claude</c> here).</summary>
    public string BinDirectory => Home.PathFor("bin");

    public string ConfigDirectory => Home.PathFor("agent-config");

    public string StateDirectory => Home.PathFor("agent-state");

    /// <summary>In a directory the agent creates itself (it must be private).</summary>
    public string SocketPath => Home.PathFor("agent-run/agent.sock");

    public int HookPort { get; }

    public string TmuxSocketName { get; }

    /// <summary>The per-user secret of the http hooks (from agent.json, after install).</summary>
    public string HookSecret { get; private set; } = string.Empty;

    /// <summary>What a Claude process of this machine needs so that its command hook and channel find this agent.</summary>
    public IReadOnlyDictionary<string, string?> ClaudeEnvironment { get; }

    public AgentDaemon Daemon { get; }

    /// <summary>Enrols the machine (relayctl + relay-agent enroll), sets its hook port, installs Relay into Claude Code, starts the daemon.</summary>
    public async Task StartAsync(Relayctl relayctl, string brokerAddress, CancellationToken cancellationToken)
    {
        var enrolment = await relayctl.JsonAsync("machines", "enroll", Name);
        await AgentAsync("enroll", "--broker", brokerAddress, "--token", enrolment.GetProperty("token").GetString()!, "--name", Name);
        var configPath = Path.Combine(ConfigDirectory, "agent.json");
        var config = JsonNode.Parse(await File.ReadAllTextAsync(configPath, cancellationToken))!.AsObject();
        config["hook_port"] = HookPort;
        await File.WriteAllTextAsync(configPath, config.ToJsonString(), cancellationToken);
        await AgentAsync("install");
        config = JsonNode.Parse(await File.ReadAllTextAsync(configPath, cancellationToken))!.AsObject();
        HookSecret = (string)config["hook_secret"]!;
        MachineId = (string)config["machine_id"]!;
        await Daemon.StartAsync(waitForBroker: true, cancellationToken);
    }

    /// <summary>Runs a one-shot relay-agent command with this machine's environment; fails the test on a non-zero exit.</summary>
    public async Task<string> AgentAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await ProgramRunner.RunAsync(
            "relay-agent", _agentEnvironment.ToDictionary(e => e.Key, e => (string?)e.Value), args, TimeSpan.FromSeconds(60));
        exit.Should().Be(0, "relay-agent {0} failed: {1}{2}", string.Join(' ', args), stdout, stderr);
        return stdout;
    }

    /// <summary>Runs the real <c>claude -p</c> as a process of this machine (its HOME, its agent).</summary>
    public Task<ClaudeCodeRunResult> RunClaudeAsync(MessagesApiStub stub, ClaudeCodeRunOptions options, CancellationToken cancellationToken) =>
        ClaudeCodeCli.RunAsync(Home, stub.BaseUrl, options, cancellationToken);

    /// <summary>Options for a <c>claude -p</c> run on this machine (the agent's variables in its environment).</summary>
    public ClaudeCodeRunOptions ClaudeOptions(string prompt, Guid sessionId, IReadOnlyList<string> allowedTools) => new()
    {
        Prompt = prompt,
        SessionId = sessionId,
        AllowedTools = allowedTools,
        Environment = ClaudeEnvironment,
        Timeout = TimeSpan.FromSeconds(90),
    };

    /// <summary>POSTs a hook payload to the agent's http hook endpoint as Claude Code does; returns the status, answer and wall time.</summary>
    public async Task<(HttpStatusCode Status, string Body, TimeSpan Elapsed)> PostHookAsync(JsonObject payload, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{HookPort}/hooks")
        {
            Content = new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Relay-Hook-Secret", HookSecret);
        var stopwatch = Stopwatch.StartNew();
        using var response = await Http.SendAsync(request, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        return (response.StatusCode, body, stopwatch.Elapsed);
    }

    public async ValueTask DisposeAsync()
    {
        await Daemon.DisposeAsync();
        // Launched Claude sessions live in the machine's own tmux server, which outlives the daemon on purpose. Stop it and
        // wait for the Claude processes in its panes: they still write into HOME as they exit.
        var panes = await TmuxAsync("list-panes", "-a", "-F", "#{pane_pid}");
        await TmuxAsync("kill-server");
        foreach (var pid in panes.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            for (var attempt = 0; attempt < 40 && Directory.Exists("/proc/" + pid.Trim()); attempt++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }

        Home.Dispose();
    }

    /// <summary>Runs tmux against this machine's own tmux server; its output, or empty when it failed.</summary>
    public async Task<string> TmuxAsync(params string[] args)
    {
        try
        {
            using var tmux = Process.Start(new ProcessStartInfo("tmux", ["-L", TmuxSocketName, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = await tmux.StandardOutput.ReadToEndAsync();
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await tmux.WaitForExitAsync(bound.Token);
            return tmux.ExitCode == 0 ? output : string.Empty;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return string.Empty; // tmux is not installed: there is no server.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
