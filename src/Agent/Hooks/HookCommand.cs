using System.CommandLine;
using System.Globalization;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Relay.Agent.Hosting;
using Relay.Grpc;
using Relay.Protocol.Local;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// <c>relay-agent hook</c>: the command-hook client Claude Code runs for SessionStart (which cannot be an http hook).
/// Reads the hook input on stdin, hands it to the agent (LocalAgent.Hook over the Unix socket) and prints the agent's
/// answer. It fails open: when the agent does not answer within <see cref="Deadline"/> it leaves the request in the
/// drop directory for the agent to replay, prints nothing and exits 0, so Claude starts as if there were no hook.
/// </summary>
/// <remarks>
/// Claude waits for this process on every session start, so its path is kept minimal: no host, no DI, no logging
/// framework; <see cref="AgentCommandLine"/> calls <see cref="RunAsync"/> before building the command tree.
/// </remarks>
internal static class HookCommand
{
    /// <summary>The longest hook input read from stdin; SessionStart inputs are well under a kilobyte.</summary>
    public const int MaxInputBytes = 1024 * 1024;

    /// <summary>How long the agent has to answer, connection included (unless <see cref="DeadlineVariable"/> says otherwise).</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    /// <summary>Overrides <see cref="Deadline"/> in milliseconds (100–30000), for machines too slow or too loaded for one second.</summary>
    public const string DeadlineVariable = "RELAY_AGENT_HOOK_TIMEOUT_MS";

    /// <summary>Shells Claude Code runs a shell-form hook with (<c>sh -c</c>); the hook's Claude is then the grandparent.</summary>
    private static readonly string[] Shells = ["sh", "bash", "dash", "zsh", "ash", "ksh"];

    public static Command Create()
    {
        var command = new Command(
            "hook",
            "The SessionStart command-hook client: reads Claude Code's hook input on stdin, hands it to the agent and prints its answer. Always exits 0.");
        command.SetAction(async (result, cancellationToken) =>
            await RunAsync(Console.OpenStandardInput(), result.InvocationConfiguration.Output, result.InvocationConfiguration.Error, Environment.GetEnvironmentVariable));
        return command;
    }

    /// <summary>Runs the client; always returns 0 (a hook that fails must not stop Claude).</summary>
    public static async Task<int> RunAsync(Stream stdin, TextWriter stdout, TextWriter stderr, Func<string, string?> environment)
    {
        var receivedAt = DateTimeOffset.UtcNow;
        var deadline = int.TryParse(environment(DeadlineVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? TimeSpan.FromMilliseconds(Math.Clamp(ms, 100, 30_000))
            : Deadline;
        using var budget = new CancellationTokenSource(deadline);
        string rawJson;
        try
        {
            rawJson = await ReadInputAsync(stdin, budget.Token);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or OperationCanceledException)
        {
            await stderr.WriteLineAsync("relay-agent hook: could not read the hook input (" + ex.Message + "); nothing recorded.");
            return 0;
        }

        var request = new HookRequest
        {
            EventId = Guid.NewGuid().ToString(),
            RawJson = rawJson,
            ClaudePid = ClaudeProcess.Find(),
            LaunchId = environment(LocalAgentPaths.LaunchIdVariable) ?? string.Empty,
            EnvClaudeSessionId = environment("CLAUDE_CODE_SESSION_ID") ?? string.Empty,
            ProjectDir = environment("CLAUDE_PROJECT_DIR") ?? string.Empty,
            ReceivedAt = Timestamp.FromDateTimeOffset(receivedAt),
            ClientVersion = AgentCommandLine.Version,
        };

        var socket = LocalAgentPaths.Socket(environment);
        try
        {
            using var channel = GrpcChannel.ForAddress("unix:" + socket, new GrpcChannelOptions { ConnectTimeout = deadline });
            var client = new LocalAgent.LocalAgentClient(channel);
            var response = await client.HookAsync(request, deadline: DateTime.UtcNow + deadline, cancellationToken: budget.Token);
            if (response.OutputJson.Length > 0)
            {
                await stdout.WriteLineAsync(response.OutputJson);
                await stdout.FlushAsync(CancellationToken.None);
            }

            return 0;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
        {
            // The agent read it and says it is not a hook input: a replay would be refused the same way.
            await stderr.WriteLineAsync("relay-agent hook: the agent refused the hook input: " + ex.Status.Detail);
            return 0;
        }
        catch (Exception ex) when (ex is RpcException or OperationCanceledException or IOException or System.Net.Sockets.SocketException or HttpRequestException)
        {
            return await DropAsync(request, environment, stderr, Reason(ex, socket, deadline, budget.IsCancellationRequested));
        }
    }

    private static async Task<int> DropAsync(HookRequest request, Func<string, string?> environment, TextWriter stderr, string reason)
    {
        try
        {
            var file = HookDropFiles.Write(LocalAgentPaths.HookDropDirectory(environment), request);
            await stderr.WriteLineAsync("relay-agent hook: " + reason + "; the event waits in " + file + " for the agent.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await stderr.WriteLineAsync("relay-agent hook: " + reason + ", and the event could not be left for the agent: " + ex.Message);
        }

        return 0;
    }

    private static string Reason(Exception ex, string socket, TimeSpan deadline, bool outOfTime) => ex switch
    {
        _ when outOfTime => "the agent did not answer within " + deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s",
        RpcException rpc when rpc.StatusCode == StatusCode.DeadlineExceeded => "the agent did not answer within " + deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s",
        OperationCanceledException => "the agent did not answer within " + deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s",
        RpcException rpc => "the agent at " + socket + " is not reachable (" + rpc.StatusCode + ": " + rpc.Status.Detail + ")",
        _ => "the agent at " + socket + " is not reachable (" + ex.Message + ")",
    };

    private static async Task<string> ReadInputAsync(Stream stdin, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var collected = new MemoryStream();
        int read;
        while ((read = await stdin.ReadAsync(buffer, cancellationToken)) > 0)
        {
            collected.Write(buffer, 0, read);
            if (collected.Length > MaxInputBytes)
            {
                throw new InvalidDataException("the input is larger than " + MaxInputBytes + " bytes");
            }
        }

        return Encoding.UTF8.GetString(collected.GetBuffer(), 0, (int)collected.Length);
    }

    /// <summary>Finds the Claude Code process that ran this hook, from /proc.</summary>
    internal static class ClaudeProcess
    {
        /// <summary>The parent process, or the grandparent when the parent is the shell of a shell-form hook; 0 when unknown.</summary>
        public static int Find() => Find(Environment.ProcessId, "/proc");

        internal static int Find(int self, string proc)
        {
            var parent = ParentOf(self, proc);
            if (parent <= 1)
            {
                return 0;
            }

            return Array.IndexOf(Shells, Comm(parent, proc)) >= 0 && ParentOf(parent, proc) is > 1 and var grandparent ? grandparent : parent;
        }

        /// <summary>Field 4 of /proc/&lt;pid&gt;/stat; the command name in field 2 may hold spaces and ')', so parse after the last ')'.</summary>
        internal static int ParentOf(int pid, string proc)
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(proc, pid.ToString(CultureInfo.InvariantCulture), "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 1 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ppid) ? ppid : 0;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return 0;
            }
        }

        private static string Comm(int pid, string proc)
        {
            try
            {
                return File.ReadAllText(Path.Combine(proc, pid.ToString(CultureInfo.InvariantCulture), "comm")).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return string.Empty;
            }
        }
    }
}
