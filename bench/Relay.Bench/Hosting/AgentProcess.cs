using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Bench.Hosting;

/// <summary>The outcome of one run of a relay-agent command (enroll, hook, …).</summary>
/// <param name="ExitCode">The process's exit code.</param>
/// <param name="Stdout">Everything it wrote to stdout.</param>
/// <param name="Stderr">Everything it wrote to stderr.</param>
/// <param name="Elapsed">Wall time from just before the process was started to its exit.</param>
internal sealed record AgentCommandResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed);

/// <summary>How relay-agent is started: an executable and the arguments before the command's own.</summary>
/// <param name="Command">The apphost, or dotnet.</param>
/// <param name="Arguments">Nothing, or relay-agent.dll.</param>
/// <param name="Description">Which of the two, for the report.</param>
internal sealed record AgentProgram(string Command, IReadOnlyList<string> Arguments, string Description);

/// <summary>
/// A real <c>relay-agent run</c> daemon (the binary copied beside relay-bench), as one machine runs it: its own HOME,
/// configuration and state directories and Unix socket (<c>RELAY_AGENT_CONFIG_DIR</c>, <c>RELAY_AGENT_STATE_DIR</c>,
/// <c>RELAY_AGENT_SOCKET</c>), enrolled with the bench's broker by <c>relay-agent enroll</c> with a one-time enrolment
/// token, its http hook endpoint on a free loopback port with a secret the bench knows. It can be SIGKILLed, stopped
/// gracefully and started again on the same directories; disposing it stops it and removes its directories.
/// </summary>
internal sealed class AgentProcess : IAsyncDisposable
{
    private const string ListeningLine = "relay-agent listening:";
    private const string ConnectedLine = "Connected to broker";
    private const string ReconnectingLine = "; reconnecting in ";
    private const int PortAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    private readonly LogTail _log = new();
    private readonly Dictionary<string, string> _environment;
    private Process? _process;
    private Task _pump = Task.CompletedTask;
    private TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TimeSpan> _reconnectDelays = [];
    private long _connects;

    private AgentProcess(string root)
    {
        RootDirectory = root;
        Directory.CreateDirectory(HomeDirectory);
        // What this machine's Claude Code (and so its hook client and relay-channel) would have: the bench's environment
        // without anything that points at another agent, broker or collector, plus this agent's own places.
        _environment = System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .Select(e => (Key: (string)e.Key, Value: (string?)e.Value ?? string.Empty))
            .Where(e => !e.Key.StartsWith("RELAY_", StringComparison.Ordinal) && !e.Key.StartsWith("XDG_", StringComparison.Ordinal)
                        && !e.Key.StartsWith("CLAUDE", StringComparison.Ordinal) && !e.Key.StartsWith("OTEL_", StringComparison.Ordinal)
                        && !e.Key.StartsWith("ANTHROPIC_", StringComparison.Ordinal))
            .ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        _environment["HOME"] = HomeDirectory;
        _environment["RELAY_AGENT_CONFIG_DIR"] = ConfigDirectory;
        _environment["RELAY_AGENT_STATE_DIR"] = StateDirectory;
        _environment["RELAY_AGENT_SOCKET"] = SocketPath;
    }

    /// <summary>
    /// How relay-agent is run here, and so what <c>relay-agent install</c> writes into Claude Code's settings for the
    /// SessionStart command hook: install writes the program as it was itself started, and an installed agent is the
    /// published apphost (<c>relay-agent</c>); <c>dotnet relay-agent.dll</c> only when the apphost is missing.
    /// </summary>
    public static AgentProgram Program { get; private set; } = FindProgram(AppContext.BaseDirectory);

    /// <summary>Runs relay-agent from <paramref name="directory"/> (a published, installed agent) from now on.</summary>
    public static void UseProgramIn(string directory) => Program = FindProgram(directory);

    /// <summary>The directory holding everything of this machine (removed on dispose).</summary>
    public string RootDirectory { get; }

    /// <summary>HOME of the daemon and of this machine's hook clients.</summary>
    public string HomeDirectory => Path.Combine(RootDirectory, "home");

    /// <summary>agent.json (broker, credential, hook port and secret).</summary>
    public string ConfigDirectory => Path.Combine(RootDirectory, "config");

    /// <summary>The spool, the link position, hook drop files.</summary>
    public string StateDirectory => Path.Combine(RootDirectory, "state");

    /// <summary>The agent's Unix socket (its directory is created by the agent, 0700).</summary>
    public string SocketPath => Path.Combine(RootDirectory, "run", "agent.sock");

    /// <summary>
    /// The environment a process of this machine needs to find this agent (HOME and the <c>RELAY_AGENT_*</c> places):
    /// what the hook client and relay-channel are started with.
    /// </summary>
    public IReadOnlyDictionary<string, string> Environment => _environment;

    /// <summary>The machine name it enrolled under.</summary>
    public string MachineName { get; private set; } = string.Empty;

    /// <summary>The broker's id of this machine.</summary>
    public Guid MachineId { get; private set; }

    /// <summary>The loopback port of the http hook endpoint.</summary>
    public int HookPort { get; private set; }

    /// <summary>The URL Claude Code's http hooks POST to.</summary>
    public string HookUrl => $"http://127.0.0.1:{HookPort.ToString(CultureInfo.InvariantCulture)}/hooks";

    /// <summary>The value of the <c>X-Relay-Hook-Secret</c> header the endpoint requires.</summary>
    public string HookSecret { get; private set; } = string.Empty;

    /// <summary>The header carrying <see cref="HookSecret"/>.</summary>
    public const string HookSecretHeader = "X-Relay-Hook-Secret";

    /// <summary>The daemon's pid while it runs.</summary>
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>How many times the daemon logged that its broker link connected, over every start.</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>The reconnect delays the daemon's broker link chose (its backoff) after losing the broker, over every start.</summary>
    public IReadOnlyList<TimeSpan> ReconnectDelays()
    {
        lock (_reconnectDelays)
        {
            return [.. _reconnectDelays];
        }
    }

    /// <summary>
    /// Creates the machine's directories, enrols it with <paramref name="broker"/> (an enrolment token from the Admin API,
    /// then <c>relay-agent enroll</c>), writes its hook port and secret into agent.json, starts the daemon and waits until
    /// it listens and its broker link is up.
    /// </summary>
    public static async Task<AgentProcess> StartAsync(BrokerProcess broker, string machineName, CancellationToken cancellationToken)
    {
        var agent = new AgentProcess(Path.Combine(Path.GetTempPath(), "relay-bench-agent-" + Guid.NewGuid().ToString("N")[..10]));
        try
        {
            await agent.EnrollAsync(broker, machineName, cancellationToken);
            await agent.StartAsync(waitForBroker: true, cancellationToken);
            return agent;
        }
        catch
        {
            await agent.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts the daemon (again) on this machine's directories and waits until its socket and hook endpoint listen and,
    /// when <paramref name="waitForBroker"/>, its broker link is up. A hook port taken meanwhile by someone else is
    /// replaced by another free one.
    /// </summary>
    public async Task StartAsync(bool waitForBroker, CancellationToken cancellationToken)
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException($"{MachineName}: relay-agent run is already running (pid {_process.Id}).");
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartOnceAsync(cancellationToken);
                break;
            }
            catch (InvalidOperationException) when (attempt < PortAttempts && Log().Contains("hook port", StringComparison.Ordinal))
            {
                await EndAsync();
                await WriteHookSettingsAsync(FreePort(), HookSecret, cancellationToken);
            }
        }

        if (waitForBroker)
        {
            await WaitForBrokerAsync(cancellationToken);
        }
    }

    /// <summary>Waits until the daemon logs that its broker link connected (since its last start or <see cref="ResetConnected"/>).</summary>
    public async Task WaitForBrokerAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        try
        {
            await Volatile.Read(ref _connected).Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"{MachineName}: relay-agent did not connect to the broker within {StartTimeout.TotalSeconds:0} s. Its log:\n{Log()}");
        }
    }

    /// <summary>Forgets the last "connected", so that <see cref="WaitForBrokerAsync"/> waits for the next one.</summary>
    public void ResetConnected() => Volatile.Write(ref _connected, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>SIGKILL: no drain, no goodbye, as after a crash. The directories stay for a restart.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        await EndAsync();
    }

    /// <summary>SIGTERM and wait: the daemon closes its spool and socket cleanly (SIGKILL after 20 s). The directories stay.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!)
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        await EndAsync();
    }

    /// <summary>The daemon's last log lines (over every start), for failure messages.</summary>
    public string Log() => _log.Last(40);

    /// <summary>
    /// Runs one relay-agent command (e.g. <c>hook</c>) as a process of this machine, <see cref="Program"/> with this
    /// machine's <see cref="Environment"/> (plus <paramref name="extraEnvironment"/>), writing <paramref name="stdin"/>
    /// and closing it. Elapsed is the wall time from just before the start to the exit.
    /// </summary>
    public Task<AgentCommandResult> RunCommandAsync(IReadOnlyList<string> args, string? stdin, IReadOnlyDictionary<string, string>? extraEnvironment, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string>(_environment, StringComparer.Ordinal);
        foreach (var (key, value) in extraEnvironment ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        return RunProgramAsync(args, stdin, environment, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            if (Directory.Exists(RootDirectory))
            {
                Directory.Delete(RootDirectory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"relay-bench: could not remove {RootDirectory}: {ex.Message}");
        }
    }

    private async Task EnrollAsync(BrokerProcess broker, string machineName, CancellationToken cancellationToken)
    {
        string token;
        using (var channel = GrpcChannel.ForAddress(broker.Address))
        {
            var admin = new Admin.AdminClient(channel);
            var enrolment = await admin.CreateEnrollmentAsync(
                new CreateEnrollmentRequest { MachineName = machineName, Note = "relay-bench" },
                new Metadata { { "authorization", "Bearer " + broker.AdminToken } },
                cancellationToken: cancellationToken);
            token = enrolment.Token;
        }

        var enrolled = await RunCommandAsync(["enroll", "--broker", broker.Address, "--token", token, "--name", machineName], stdin: null, null, cancellationToken);
        if (enrolled.ExitCode != 0)
        {
            throw new InvalidOperationException($"relay-agent enroll exited {enrolled.ExitCode}: {enrolled.Stderr.Trim()} {enrolled.Stdout.Trim()}");
        }

        var config = await ReadConfigAsync(cancellationToken);
        MachineId = Guid.Parse((string)config["machine_id"]!);
        MachineName = (string)config["machine_name"]!;
        await WriteHookSettingsAsync(FreePort(), "relay_hook_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)), cancellationToken);
    }

    /// <summary>Writes the hook port and secret into agent.json, as an operator (or <c>relay-agent install</c>) would.</summary>
    private async Task WriteHookSettingsAsync(int port, string secret, CancellationToken cancellationToken)
    {
        var config = await ReadConfigAsync(cancellationToken);
        config["hook_port"] = port;
        config["hook_secret"] = secret;
        var path = Path.Combine(ConfigDirectory, "agent.json");
        await File.WriteAllTextAsync(path + ".tmp", config.ToJsonString(), cancellationToken);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path + ".tmp", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(path + ".tmp", path, overwrite: true);
        HookPort = port;
        HookSecret = secret;
    }

    /// <summary>
    /// The daemon's environment: the machine's, plus the runtime settings deploy/systemd/relay-agent.service starts it
    /// with (keep the two in step), unless the bench's own environment sets them (to measure without them:
    /// <c>DOTNET_TieredPGO=1 DOTNET_TC_CallCountingDelayMs=100</c>).
    /// </summary>
    private Dictionary<string, string> DaemonEnvironment()
    {
        var environment = new Dictionary<string, string>(_environment, StringComparer.Ordinal);
        environment.TryAdd("DOTNET_TieredPGO", "0");
        environment.TryAdd("DOTNET_TC_CallCountingDelayMs", "0");
        return environment;
    }

    private async Task<JsonObject> ReadConfigAsync(CancellationToken cancellationToken) =>
        JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(ConfigDirectory, "agent.json"), cancellationToken))?.AsObject()
        ?? throw new InvalidOperationException($"{ConfigDirectory}/agent.json is empty.");

    private async Task StartOnceAsync(CancellationToken cancellationToken)
    {
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _listening = listening;
        ResetConnected();
        var start = StartInfo(["run"], DaemonEnvironment(), redirectInput: false);
        var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"{Program.Command} did not start.");
        _process = process;
        _pump = Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError));
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(
            _ => listening.TrySetException(new InvalidOperationException($"{MachineName}: relay-agent run exited before listening:\n{Log()}")),
            TaskScheduler.Default);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        try
        {
            await listening.Task.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"{MachineName}: relay-agent run did not listen within {StartTimeout.TotalSeconds:0} s. Its log:\n{Log()}");
        }
    }

    private async Task EndAsync()
    {
        await _pump;
        _pump = Task.CompletedTask;
        _process?.Dispose();
        _process = null;
    }

    private async Task PumpAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is { } line)
        {
            _log.Add(line);

            if (line.Contains(ListeningLine, StringComparison.Ordinal))
            {
                _listening.TrySetResult();
            }
            else if (line.IndexOf(ReconnectingLine, StringComparison.Ordinal) is var at and >= 0
                     && TimeSpan.TryParse(line[(at + ReconnectingLine.Length)..].Trim(), CultureInfo.InvariantCulture, out var delay))
            {
                lock (_reconnectDelays)
                {
                    _reconnectDelays.Add(delay);
                }
            }
            else if (line.Contains(ConnectedLine, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _connects);
                Volatile.Read(ref _connected).TrySetResult();
            }
        }
    }

    private static async Task<AgentCommandResult> RunProgramAsync(IReadOnlyList<string> args, string? stdin, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        var start = StartInfo(args, environment, redirectInput: true);
        var clock = Stopwatch.StartNew();
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"{Program.Command} did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.StandardInput.WriteAsync(stdin ?? string.Empty);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It exited without reading its input; its exit code and output say why.
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(StartTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"relay-agent {string.Join(' ', args)} did not exit within {StartTimeout.TotalSeconds:0} s.");
        }

        var elapsed = clock.Elapsed;
        return new AgentCommandResult(process.ExitCode, await stdout, await stderr, elapsed);
    }

    private static ProcessStartInfo StartInfo(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, bool redirectInput)
    {
        var start = new ProcessStartInfo(Program.Command)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
        };
        foreach (var arg in Program.Arguments.Concat(args))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private static AgentProgram FindProgram(string directory)
    {
        var apphost = Path.Combine(directory, "relay-agent");
        var published = directory != AppContext.BaseDirectory ? " in " + Path.GetRelativePath(System.Environment.CurrentDirectory, directory) : string.Empty;
        return File.Exists(apphost)
            ? new AgentProgram(apphost, [], "the relay-agent apphost" + published)
            : new AgentProgram("dotnet", [Path.Combine(directory, "relay-agent.dll")], "dotnet relay-agent.dll");
    }

    // Free now; the daemon binds it a moment later. Another process taking it meanwhile makes the start retry.
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
