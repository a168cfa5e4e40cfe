using System.CommandLine;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;
using Relay.Protocol.Local;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// <c>relay-agent status [--json]</c>: asks the running agent (LocalAgent.GetStatus over its Unix socket) for its broker
/// link, spool and sessions. Exit codes: 0 shown; 5 the agent is not running; 6 it did not answer in time; 1 other.
/// </summary>
internal static class StatusCommand
{
    public const int NotRunning = 5;
    public const int NoAnswer = 6;

    private static readonly TimeSpan AnswerBound = TimeSpan.FromSeconds(5);

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default
        .WithPreserveProtoFieldNames(true)
        .WithFormatDefaultValues(true));

    /// <param name="socketPath">Where to find the agent; default <see cref="LocalAgentPaths.Socket"/>.</param>
    public static Command Create(Func<string>? socketPath = null)
    {
        var json = new Option<bool>("--json") { Description = "Print the status as JSON (relay.v1.AgentStatusResponse, proto field names)." };
        var command = new Command("status", "Show the daemon's state: broker link, spool depth and the local Claude sessions.") { json };
        command.SetAction((result, cancellationToken) => RunAsync(
            (socketPath ?? (() => LocalAgentPaths.Socket()))(),
            result.GetValue(json),
            result.InvocationConfiguration.Output,
            result.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(string socketPath, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        AgentStatusResponse status;
        try
        {
            using var channel = GrpcChannel.ForAddress("unix:" + socketPath);
            var client = new LocalAgent.LocalAgentClient(channel);
            status = await client.GetStatusAsync(new AgentStatusRequest(), deadline: DateTime.UtcNow + AnswerBound, cancellationToken: cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            await error.WriteLineAsync($"relay-agent is not running (nothing answers on {socketPath}). Start it with 'relay-agent run' or 'systemctl --user start relay-agent'.");
            return NotRunning;
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded)
        {
            await error.WriteLineAsync($"relay-agent did not answer within {AnswerBound.TotalSeconds} s on {socketPath}; it may be overloaded or stuck (see its log).");
            return NoAnswer;
        }
        catch (RpcException ex)
        {
            await error.WriteLineAsync($"relay-agent status failed: {ex.Status.Detail} ({ex.StatusCode}).");
            return 1;
        }

        if (json)
        {
            await output.WriteLineAsync(Formatter.Format(status));
        }
        else
        {
            await output.WriteAsync(Readable(status));
        }

        return 0;
    }

    /// <summary>The status for a person: one fact per line, then one line per session.</summary>
    internal static string Readable(AgentStatusResponse status)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        text.WriteLine($"relay-agent {status.AgentVersion}, running since {Time(status.StartedAt)}");
        text.WriteLine("Machine:  " + (status.MachineId.Length > 0 ? $"{status.MachineName} ({status.MachineId})" : "not enrolled (run 'relay-agent enroll')"));
        var link = status.Link ?? new BrokerLinkState();
        var linkText = link.Connected
            ? $"connected since {Time(link.ConnectedSince)} (connection {link.ConnectionId}), broker acked seq {link.AckedSeq}"
            : "not connected" + (link.LastError.Length > 0 ? ": " + link.LastError : string.Empty)
                + (link.NextAttemptAt is not null ? "; next attempt at " + Time(link.NextAttemptAt) : string.Empty);
        text.WriteLine("Broker:   " + (status.BrokerAddress.Length > 0 ? status.BrokerAddress + ", " : string.Empty) + linkText);
        var spool = status.Spool ?? new SpoolStats();
        text.WriteLine($"Spool:    {spool.Items} items, {spool.Bytes} of {spool.CapacityBytes} bytes"
            + (spool.OldestItemAt is not null ? ", oldest from " + Time(spool.OldestItemAt) : string.Empty)
            + (spool.DroppedTotal > 0 ? $", {spool.DroppedTotal} hook events dropped when full" : string.Empty));
        text.WriteLine("Hooks:    " + status.HookUrl);
        text.WriteLine("Socket:   " + status.SocketPath);
        text.WriteLine($"Sessions: {status.Sessions.Count}");
        foreach (var live in status.Sessions)
        {
            var session = live.Session ?? new SessionEvidence();
            var name = live.Name.Length > 0 ? live.Name : "(unnamed)";
            var relay = session.SessionId.Length > 0 ? "relay " + session.SessionId : "not bound yet";
            var pid = session.ClaudePid > 0 ? "pid " + session.ClaudePid.ToString(CultureInfo.InvariantCulture) : "pid unknown";
            text.WriteLine($"  {name}  {pid}  claude {session.ClaudeSessionId}  {relay}  channel {(live.ChannelAttached ? "attached" : "none")}"
                + $"  {live.QueuedPrompts} queued  {session.Cwd}");
        }

        return text.ToString();
    }

    private static string Time(Timestamp? at) =>
        at is null ? "-" : at.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
