using System.CommandLine;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Win32.SafeHandles;
using Relay.Agent.Hooks.Client;
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
/// Claude waits for this process on every session start, so it is built for a cold start (docs/agent.md, "Hook client
/// start time"): Program.cs calls <see cref="Run"/> before anything else is loaded (no command-line parser, host, DI
/// or logging), everything runs synchronously on the main thread, and the call is <see cref="GrpcUnaryCall"/>, a
/// single-call HTTP/2 client, instead of Relay.Grpc's SocketsHttpHandler-based channel.
/// </remarks>
internal static class HookCommand
{
    /// <summary>The longest hook input read from stdin; SessionStart inputs are well under a kilobyte.</summary>
    public const int MaxInputBytes = 1024 * 1024;

    /// <summary>How long the agent has to answer, reading the input and the connection included (unless <see cref="DeadlineVariable"/> says otherwise).</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    /// <summary>Overrides <see cref="Deadline"/> in milliseconds (100–30000), for machines too slow or too loaded for one second.</summary>
    public const string DeadlineVariable = "RELAY_AGENT_HOOK_TIMEOUT_MS";

    /// <summary>LocalAgent.Hook's gRPC path (<c>LocalAgent.HookMethod.FullName</c>, spelled out so the bindings stay unloaded).</summary>
    public const string HookPath = "/relay.v1.LocalAgent/Hook";

    /// <summary>Shells Claude Code runs a shell-form hook with (<c>sh -c</c>); the hook's Claude is then the grandparent.</summary>
    private static readonly string[] Shells = ["sh", "bash", "dash", "zsh", "ash", "ksh"];

    public static Command Create()
    {
        var command = new Command(
            "hook",
            "The SessionStart command-hook client: reads Claude Code's hook input on stdin, hands it to the agent and prints its answer. Always exits 0.");
        command.SetAction(_ => RunOnConsole());
        return command;
    }

    /// <summary>Runs the client on this process's stdin, stdout and stderr; always returns 0.</summary>
    /// <remarks>
    /// File streams on the descriptors, not <see cref="Console"/>: the first write through Console initializes the
    /// terminal and its encodings, about 6 ms of a cold start that a client writing a line of JSON does not need.
    /// </remarks>
    public static int RunOnConsole()
    {
        using var stdin = StandardStream(0, FileAccess.Read);
        using var stdout = StandardStream(1, FileAccess.Write);
        using var stderr = StandardStream(2, FileAccess.Write);
        return Run(stdin, stdout, stderr, Environment.GetEnvironmentVariable);
    }

    /// <summary>Runs the client; always returns 0 (a hook that fails must not stop Claude).</summary>
    public static int Run(Stream stdin, Stream stdout, Stream stderr, Func<string, string?> environment)
    {
        var receivedAt = DateTimeOffset.UtcNow;
        var deadline = int.TryParse(environment(DeadlineVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            ? TimeSpan.FromMilliseconds(Math.Clamp(ms, 100, 30_000))
            : Deadline;
        var budget = CallBudget.StartNew(deadline);
        string rawJson;
        try
        {
            rawJson = ReadInput(stdin);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            Report(stderr, "relay-agent hook: could not read the hook input (" + ex.Message + "); nothing recorded.");
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
            ClientVersion = AgentVersion.Current,
        };

        var socket = LocalAgentPaths.Socket(environment);
        var bytes = request.ToByteArray();
        var reply = GrpcUnaryCall.Invoke(socket, HookPath, bytes, budget);
        switch (reply.Status)
        {
            case StatusCode.OK:
                return Print(reply.Message!, request.EventId, bytes, environment, stdout, stderr, socket);
            case StatusCode.InvalidArgument:
                // The agent read it and says it is not a hook input: a replay would be refused the same way.
                Report(stderr, "relay-agent hook: the agent refused the hook input: " + reply.Detail);
                return 0;
            case StatusCode.DeadlineExceeded:
                return Drop(request.EventId, bytes, environment, stderr, "the agent did not answer within " + deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s");
            default:
                return Drop(request.EventId, bytes, environment, stderr, "the agent at " + socket + " is not reachable (" + reply.Status + ": " + reply.Detail + ")");
        }
    }

    private static int Print(
        byte[] message, string eventId, byte[] request, Func<string, string?> environment, Stream stdout, Stream stderr, string socket)
    {
        HookResponse response;
        try
        {
            response = HookResponse.Parser.ParseFrom(message);
        }
        catch (InvalidProtocolBufferException ex)
        {
            // The agent may have recorded the event; a replay of the same event id is recognised and not recorded twice.
            return Drop(eventId, request, environment, stderr, "the answer of the agent at " + socket + " could not be read (" + ex.Message + ")");
        }

        if (response.OutputJson.Length == 0)
        {
            return 0;
        }

        try
        {
            WriteLine(stdout, response.OutputJson);
        }
        catch (IOException ex)
        {
            Report(stderr, "relay-agent hook: could not print the agent's answer (" + ex.Message + ").");
        }

        return 0;
    }

    private static int Drop(string eventId, byte[] request, Func<string, string?> environment, Stream stderr, string reason)
    {
        try
        {
            var file = HookDropFiles.Write(LocalAgentPaths.HookDropDirectory(environment), eventId, request);
            Report(stderr, "relay-agent hook: " + reason + "; the event waits in " + file + " for the agent.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Report(stderr, "relay-agent hook: " + reason + ", and the event could not be left for the agent: " + ex.Message);
        }

        return 0;
    }

    private static void WriteLine(Stream stream, string line)
    {
        stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        stream.Flush();
    }

    private static void Report(Stream stderr, string line)
    {
        try
        {
            WriteLine(stderr, line);
        }
        catch (IOException)
        {
            // A message on stderr is a courtesy: a closed stderr must not turn a hook that failed open into a crash.
        }
    }

    // A descriptor that is not open (a parent that closed it) reads as empty and swallows writes, as Console's streams do.
    private static Stream StandardStream(int descriptor, FileAccess access)
    {
        try
        {
            return new FileStream(new SafeFileHandle(descriptor, ownsHandle: false), access, bufferSize: 0);
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or UnauthorizedAccessException)
        {
            return Stream.Null;
        }
    }

    private static string ReadInput(Stream stdin)
    {
        var buffer = new byte[64 * 1024];
        using var collected = new MemoryStream();
        int read;
        while ((read = stdin.Read(buffer)) > 0)
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
