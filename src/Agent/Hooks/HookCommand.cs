using System.CommandLine;
using System.Globalization;
using System.Text;
using Relay.Agent.Hooks.Client;
using Relay.Agent.Hosting;
using Relay.Grpc;
using Relay.Protocol.Local;

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
    /// Bare descriptors (<see cref="DescriptorStream"/>), not <see cref="Console"/> or FileStream: the first write through
    /// Console initializes the terminal and its encodings, and FileStream's first use runs its own share of the framework,
    /// milliseconds of a cold start that a client writing a line of JSON does not need.
    /// </remarks>
    public static int RunOnConsole()
    {
        using var stdin = new DescriptorStream(0, writable: false);
        using var stdout = new DescriptorStream(1, writable: true);
        using var stderr = new DescriptorStream(2, writable: true);
        return Run(stdin, stdout, stderr, Environment.GetEnvironmentVariable);
    }

    /// <summary>Runs the client; always returns 0 (a hook that fails must not stop Claude).</summary>
    public static int Run(Stream stdin, Stream stdout, Stream stderr, Func<string, string?> environment)
    {
        var receivedAt = DateTimeOffset.UtcNow;
        var deadline = ParseMilliseconds(environment(DeadlineVariable)) is { } ms
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

        var eventId = NewEventId();
        var socket = LocalAgentPaths.Socket(environment);
        var bytes = HookWire.EncodeRequest(
            eventId,
            rawJson,
            ClaudeProcess.Find(),
            environment(LocalAgentPaths.LaunchIdVariable) ?? string.Empty,
            environment("CLAUDE_CODE_SESSION_ID") ?? string.Empty,
            environment("CLAUDE_PROJECT_DIR") ?? string.Empty,
            receivedAt,
            AgentVersion.Current);
        var reply = GrpcUnaryCall.Invoke(socket, HookPath, bytes, budget);
        switch (reply.Status)
        {
            case StatusCode.OK:
                return Print(reply.Message!, eventId, bytes, environment, stdout, stderr, socket);
            case StatusCode.InvalidArgument:
                // The agent read it and says it is not a hook input: a replay would be refused the same way.
                Report(stderr, "relay-agent hook: the agent refused the hook input: " + reply.Detail);
                return 0;
            case StatusCode.DeadlineExceeded:
                return Drop(eventId, bytes, environment, stderr, "the agent did not answer within " + deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s");
            default:
                return Drop(eventId, bytes, environment, stderr, "the agent at " + socket + " is not reachable (" + StatusName(reply.Status) + ": " + reply.Detail + ")");
        }
    }

    private static int Print(
        byte[] message, string eventId, byte[] request, Func<string, string?> environment, Stream stdout, Stream stderr, string socket)
    {
        if (!HookWire.TryDecodeResponse(message, out var outputJson, out var error))
        {
            // The agent may have recorded the event; a replay of the same event id is recognised and not recorded twice.
            return Drop(eventId, request, environment, stderr, "the answer of the agent at " + socket + " could not be read (" + error + ")");
        }

        if (outputJson.Length == 0)
        {
            return 0;
        }

        try
        {
            WriteLine(stdout, outputJson);
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

    private static string ReadInput(Stream stdin)
    {
        var collected = new byte[16 * 1024];
        var length = 0;
        int read;
        while ((read = stdin.Read(collected.AsSpan(length))) > 0)
        {
            length += read;
            if (length > MaxInputBytes)
            {
                throw new InvalidDataException("the input is larger than " + MaxInputBytes + " bytes");
            }

            if (length == collected.Length)
            {
                var larger = new byte[collected.Length * 4];
                collected.AsSpan().CopyTo(larger);
                collected = larger;
            }
        }

        return Encoding.UTF8.GetString(collected, 0, length);
    }

    /// <summary>A decimal number of milliseconds as int.TryParse with NumberStyles.None reads it (digits only); null when it is not one.</summary>
    internal static int? ParseMilliseconds(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        long value = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return null;
            }

            value = (value * 10) + (c - '0');
            if (value > int.MaxValue)
            {
                return null;
            }
        }

        return (int)value;
    }

    /// <summary>
    /// A new event id: a time-ordered GUID (version 7, as the http hook endpoint makes them) in its "D" form, as
    /// <see cref="Guid.ToString()"/> writes it. Time-ordered ids keep the broker's unique index of (machine, event id)
    /// growing at its end instead of touching a random page of it per event.
    /// </summary>
    /// <remarks>Spelled out because the framework's formatting is vectorized code that ReadyToRun leaves to the JIT.</remarks>
    internal static string NewEventId() => FormatGuid(Guid.CreateVersion7());

    internal static string FormatGuid(Guid guid)
    {
        Span<byte> bytes = stackalloc byte[16];
        _ = guid.TryWriteBytes(bytes, bigEndian: true, out _);
        Span<char> text = stackalloc char[36];
        var at = 0;
        for (var i = 0; i < 16; i++)
        {
            if (i is 4 or 6 or 8 or 10)
            {
                text[at++] = '-';
            }

            text[at++] = "0123456789abcdef"[bytes[i] >> 4];
            text[at++] = "0123456789abcdef"[bytes[i] & 0xF];
        }

        return new string(text);
    }

    /// <summary>The status's name, as the enum spells it (Enum.ToString reads the names by reflection, a cold start's millisecond).</summary>
    internal static string StatusName(StatusCode status) => status switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "Cancelled",
        StatusCode.Unknown => "Unknown",
        StatusCode.InvalidArgument => "InvalidArgument",
        StatusCode.DeadlineExceeded => "DeadlineExceeded",
        StatusCode.NotFound => "NotFound",
        StatusCode.AlreadyExists => "AlreadyExists",
        StatusCode.PermissionDenied => "PermissionDenied",
        StatusCode.ResourceExhausted => "ResourceExhausted",
        StatusCode.FailedPrecondition => "FailedPrecondition",
        StatusCode.Aborted => "Aborted",
        StatusCode.OutOfRange => "OutOfRange",
        StatusCode.Unimplemented => "Unimplemented",
        StatusCode.Internal => "Internal",
        StatusCode.Unavailable => "Unavailable",
        StatusCode.DataLoss => "DataLoss",
        StatusCode.Unauthenticated => "Unauthenticated",
        _ => ((int)status).ToString(CultureInfo.InvariantCulture),
    };

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
            Span<byte> stat = stackalloc byte[1024];
            var length = UnixFile.ReadStart(proc + "/" + pid.ToString(CultureInfo.InvariantCulture) + "/stat", stat);
            if (length <= 0)
            {
                return 0;
            }

            // After the last ')': "<state> <ppid> ...", separated by spaces.
            var rest = stat[..length];
            rest = rest[(rest.LastIndexOf((byte)')') + 1)..];
            var field = 0;
            var start = -1;
            for (var i = 0; i <= rest.Length; i++)
            {
                if (i < rest.Length && rest[i] != (byte)' ')
                {
                    start = start < 0 ? i : start;
                }
                else if (start >= 0)
                {
                    if (++field == 2)
                    {
                        return ParseDigits(rest[start..i]);
                    }

                    start = -1;
                }
            }

            return 0;
        }

        private static int ParseDigits(ReadOnlySpan<byte> digits)
        {
            long value = 0;
            foreach (var b in digits)
            {
                if (b is < (byte)'0' or > (byte)'9' || (value = (value * 10) + (b - '0')) > int.MaxValue)
                {
                    return 0;
                }
            }

            return (int)value;
        }

        private static string Comm(int pid, string proc)
        {
            Span<byte> comm = stackalloc byte[64];
            var length = UnixFile.ReadStart(proc + "/" + pid.ToString(CultureInfo.InvariantCulture) + "/comm", comm);
            return length > 0 ? Encoding.UTF8.GetString(comm[..length]).Trim() : string.Empty;
        }
    }
}
