using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Relay.Agent.Config;
using Relay.Agent.Install;
using Relay.Agent.Launch;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Doctor;

/// <summary>Where the doctor looks: this user's files, programs and sockets (tests point it elsewhere).</summary>
/// <param name="Environment">Environment variables (PATH for the programs).</param>
/// <param name="ClaudePaths">Claude Code's user files.</param>
/// <param name="Config">The agent's configuration.</param>
/// <param name="SocketPath">The agent's Unix socket.</param>
/// <param name="ClaudeCommand">The Claude Code program (name or path).</param>
/// <param name="TmuxCommand">The tmux program (name or path).</param>
internal sealed record DoctorSetting(
    Func<string, string?> Environment,
    ClaudeConfigPaths ClaudePaths,
    AgentConfigStore Config,
    string SocketPath,
    string ClaudeCommand,
    string TmuxCommand);

/// <summary>
/// <c>relay-agent doctor</c>'s checks, in the order a person would fix them: the programs, the enrolment, the daemon
/// and its broker link, the Claude Code installation, the hook endpoint.
/// </summary>
internal sealed partial class MachineDoctor(DoctorSetting setting)
{
    /// <summary>Channels need 2.1.80; install writes the SessionStart hook in exec form (command + args), 2.1.139.</summary>
    public static readonly Version MinimumClaudeVersion = new(2, 1, 139);

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DaemonTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Runs every check.</summary>
    public async Task<IReadOnlyList<DoctorCheck>> RunAsync(CancellationToken cancellationToken)
    {
        var checks = new List<DoctorCheck>
        {
            await CheckClaudeAsync(cancellationToken).ConfigureAwait(false),
            await CheckTmuxAsync(cancellationToken).ConfigureAwait(false),
        };

        AgentConfig? config = null;
        try
        {
            config = setting.Config.Load();
            checks.Add(config.IsEnrolled
                ? DoctorCheck.Ok("enrolment", "machine " + config.MachineName + " (" + config.MachineId + ") with broker " + config.BrokerAddress)
                : DoctorCheck.Fail("enrolment", "this machine is not enrolled (" + setting.Config.FilePath + ")", "relay-agent enroll --broker <url> --token <enrolment token>"));
        }
        catch (AgentConfigException ex)
        {
            checks.Add(DoctorCheck.Fail("enrolment", ex.Message, "fix or remove " + setting.Config.FilePath + ", then relay-agent enroll"));
        }

        checks.AddRange(await CheckDaemonAsync(cancellationToken).ConfigureAwait(false));
        if (config is not null)
        {
            checks.AddRange(CheckInstallation(config));
            checks.Add(await CheckHookEndpointAsync(config, cancellationToken).ConfigureAwait(false));
        }

        return checks;
    }

    private async Task<DoctorCheck> CheckClaudeAsync(CancellationToken cancellationToken)
    {
        const string name = "claude";
        if (ExecutableSearch.Find(setting.ClaudeCommand, setting.Environment("PATH")) is not { } path)
        {
            return DoctorCheck.Fail(name, "'" + setting.ClaudeCommand + "' is not on PATH", "npm install -g @anthropic-ai/claude-code (or set Agent:Launcher:ClaudeCommand)");
        }

        var output = await ProgramProbe.RunAsync(path, "--version", ProbeTimeout, cancellationToken).ConfigureAwait(false);
        if (output is null || VersionNumber().Match(output) is not { Success: true } match)
        {
            return DoctorCheck.Fail(name, path + " --version did not answer with a version", "check that " + path + " is Claude Code and runs");
        }

        var version = new Version(
            int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture));
        return version >= MinimumClaudeVersion
            ? DoctorCheck.Ok(name, version + " at " + path)
            : DoctorCheck.Fail(
                name,
                version + " at " + path + " is too old: channels need 2.1.80 and Relay's SessionStart hook (exec form) " + MinimumClaudeVersion,
                "claude update (or npm install -g @anthropic-ai/claude-code@latest)");
    }

    private async Task<DoctorCheck> CheckTmuxAsync(CancellationToken cancellationToken)
    {
        const string name = "tmux";
        if (ExecutableSearch.Find(setting.TmuxCommand, setting.Environment("PATH")) is not { } path)
        {
            return DoctorCheck.Fail(name, "'" + setting.TmuxCommand + "' is not on PATH; launches need it", "apt install tmux");
        }

        var output = await ProgramProbe.RunAsync(path, "-V", ProbeTimeout, cancellationToken).ConfigureAwait(false);
        return output is null
            ? DoctorCheck.Fail(name, path + " -V failed", "reinstall tmux")
            : DoctorCheck.Ok(name, output + " at " + path);
    }

    private async Task<IReadOnlyList<DoctorCheck>> CheckDaemonAsync(CancellationToken cancellationToken)
    {
        const string fix = "systemctl --user start relay-agent (or run 'relay-agent run')";
        if (!File.Exists(setting.SocketPath))
        {
            return
            [
                DoctorCheck.Fail("daemon", "not running (no socket at " + setting.SocketPath + ")", fix),
                DoctorCheck.Warn("broker link", "unknown while the daemon is not running", fix),
            ];
        }

        try
        {
            using var channel = GrpcChannel.ForAddress("unix:" + setting.SocketPath);
            var status = await new LocalAgent.LocalAgentClient(channel)
                .GetStatusAsync(new AgentStatusRequest(), deadline: DateTime.UtcNow + DaemonTimeout, cancellationToken: cancellationToken)
                .ResponseAsync.ConfigureAwait(false);
            var daemon = DoctorCheck.Ok(
                "daemon",
                "relay-agent " + status.AgentVersion + " answering on " + setting.SocketPath +
                (status.StartedAt is { } started ? ", up since " + started.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) : string.Empty));
            var link = status.Link is { Connected: true } up
                ? DoctorCheck.Ok("broker link", "connected to " + status.BrokerAddress + (up.ConnectedSince is { } since ? " since " + since.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture) : string.Empty))
                : DoctorCheck.Warn(
                    "broker link",
                    "down" + (status.Link is { LastError.Length: > 0 } down ? ": " + down.LastError : string.Empty) + " (events wait in the spool)",
                    "check the broker address (" + status.BrokerAddress + "), the network and the broker; 'relay-agent status' shows the spool");
            return [daemon, link];
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            return
            [
                DoctorCheck.Warn("daemon", "answers on " + setting.SocketPath + " but does not implement GetStatus", "update relay-agent"),
                DoctorCheck.Warn("broker link", "unknown", "update relay-agent"),
            ];
        }
        catch (RpcException ex)
        {
            return
            [
                DoctorCheck.Fail("daemon", "does not answer on " + setting.SocketPath + " (" + ex.StatusCode + ")", fix),
                DoctorCheck.Warn("broker link", "unknown while the daemon does not answer", fix),
            ];
        }
    }

    private IEnumerable<DoctorCheck> CheckInstallation(AgentConfig config)
    {
        const string fix = "relay-agent install";
        JsonConfigFile settings, state;
        try
        {
            settings = JsonConfigFile.Load(setting.ClaudePaths.SettingsFile, ClaudeConfigPaths.Display(setting.ClaudePaths.SettingsFile, setting.Environment));
            state = JsonConfigFile.Load(setting.ClaudePaths.StateFile, ClaudeConfigPaths.Display(setting.ClaudePaths.StateFile, setting.Environment));
        }
        catch (InstallException ex)
        {
            return [DoctorCheck.Fail("hooks", ex.Message, "fix the file, then " + fix)];
        }

        return [CheckHooks(settings, config, fix), CheckChannelServer(state, fix)];
    }

    private static DoctorCheck CheckHooks(JsonConfigFile settings, AgentConfig config, string fix)
    {
        const string name = "hooks";
        var hooks = settings.Root["hooks"] as JsonObject;
        var handlers = new Dictionary<string, List<JsonObject>>(StringComparer.Ordinal);
        foreach (var (eventName, groups) in hooks ?? [])
        {
            handlers[eventName] = (groups as JsonArray ?? [])
                .OfType<JsonObject>()
                .SelectMany(g => g["hooks"] as JsonArray ?? [])
                .Where(RelayEntries.IsRelayHandler)
                .OfType<JsonObject>()
                .ToList();
        }

        List<JsonObject> Relay(string eventName) => handlers.TryGetValue(eventName, out var list) ? list : [];

        if (handlers.Values.All(l => l.Count == 0))
        {
            return DoctorCheck.Fail(name, "Relay's hooks are not in " + settings.DisplayPath, fix);
        }

        var missing = ClaudeHookEvents.Http.Where(e => Relay(e).Count == 0).ToList();
        var stale = ClaudeHookEvents.Http.Where(e => Relay(e).Count > 0 && !Relay(e).Exists(h =>
            Text(h["url"]) == config.HookUrl &&
            h["headers"] is JsonObject headers &&
            Text(headers[AgentConfig.HookSecretHeader]) == config.HookSecret)).ToList();
        var sessionStart = Relay(ClaudeHookEvents.SessionStart).FirstOrDefault();
        var problems = new List<string>();
        if (missing.Count > 0)
        {
            problems.Add("no hook for " + string.Join(", ", missing));
        }

        if (stale.Count > 0)
        {
            problems.Add(stale.Count.ToString(CultureInfo.InvariantCulture) + " hooks do not call " + config.HookUrl + " with the current secret");
        }

        if (sessionStart is null)
        {
            problems.Add("no SessionStart command hook");
        }
        else if (Text(sessionStart["command"]) is not { } command || !ExecutableSearch.IsExecutableFile(command))
        {
            problems.Add("the SessionStart hook runs " + Text(sessionStart["command"]) + ", which does not exist");
        }

        if (problems.Count > 0)
        {
            return DoctorCheck.Fail(name, string.Join("; ", problems) + " (" + settings.DisplayPath + ")", fix);
        }

        return settings.IsGroupOrWorldAccessible
            ? DoctorCheck.Warn(name, settings.DisplayPath + " holds the hook secret but others can read it", "chmod 600 " + settings.TargetPath + " (relay-agent install does it)")
            : DoctorCheck.Ok(name, ClaudeHookEvents.Http.Count.ToString(CultureInfo.InvariantCulture) + " http hooks -> " + config.HookUrl + ", SessionStart -> " + Text(sessionStart!["command"]));
    }

    private static DoctorCheck CheckChannelServer(JsonConfigFile state, string fix)
    {
        const string name = "channel server";
        var server = (state.Root["mcpServers"] as JsonObject)?[RelayEntries.McpServerName];
        if (server is not JsonObject entry)
        {
            return DoctorCheck.Fail(name, "no MCP server '" + RelayEntries.McpServerName + "' in " + state.DisplayPath, fix);
        }

        if (!RelayEntries.IsRelayMcpServer(entry))
        {
            return DoctorCheck.Fail(name, "the MCP server '" + RelayEntries.McpServerName + "' in " + state.DisplayPath + " is not relay-channel", "remove it (claude mcp remove --scope user relay), then " + fix);
        }

        var command = Text(entry["command"]);
        var dll = (entry["args"] as JsonArray)?.Select(Text).FirstOrDefault(a => a?.EndsWith(".dll", StringComparison.Ordinal) == true);
        var program = dll ?? command;
        var exists = dll is not null ? File.Exists(dll) : command is not null && ExecutableSearch.IsExecutableFile(command);
        return exists
            ? DoctorCheck.Ok(name, "'" + RelayEntries.McpServerName + "' -> " + program)
            : DoctorCheck.Fail(name, "'" + RelayEntries.McpServerName + "' runs " + program + ", which does not exist", "reinstall relay-channel, then " + fix + " --channel-command <path>");
    }

    private static async Task<DoctorCheck> CheckHookEndpointAsync(AgentConfig config, CancellationToken cancellationToken)
    {
        const string name = "hook endpoint";
        // A TCP connect only: a real hook POST would be recorded and sent to the broker as an event.
        using var client = new TcpClient();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(ConnectTimeout);
        try
        {
            await client.ConnectAsync("127.0.0.1", config.HookPort, limit.Token).ConfigureAwait(false);
            return DoctorCheck.Ok(name, config.HookUrl + " accepts connections");
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return DoctorCheck.Fail(name, "nothing listens on 127.0.0.1:" + config.HookPort.ToString(CultureInfo.InvariantCulture) + "; Claude Code's hooks go nowhere", "start the daemon: systemctl --user start relay-agent");
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    [GeneratedRegex(@"(\d+)\.(\d+)\.(\d+)", RegexOptions.CultureInvariant)]
    private static partial Regex VersionNumber();
}
