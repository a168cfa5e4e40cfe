using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Launch;

/// <summary>What <c>relay-agent launch</c> asks for.</summary>
/// <param name="WorkingDirectory">Absolute directory to start Claude in.</param>
/// <param name="Name">Session name, or null.</param>
/// <param name="Prompt">First prompt, or null.</param>
/// <param name="ClaudeArguments">Extra arguments for claude.</param>
/// <param name="Json">Print JSON instead of text.</param>
/// <param name="Timeout">How long to wait for the daemon's answer.</param>
internal sealed record LaunchRequestOptions(string WorkingDirectory, string? Name, string? Prompt, IReadOnlyList<string> ClaudeArguments, bool Json, TimeSpan Timeout);

/// <summary>
/// The client side of <c>relay-agent launch</c>: asks the running daemon (LocalAgent.Launch over its Unix socket) to
/// launch, so that the daemon owns the session and delivers the first prompt through the channel once it attaches.
/// </summary>
internal static class LaunchClient
{
    /// <summary>The daemon is not running (same code relayctl uses for an unreachable broker).</summary>
    public const int DaemonUnavailableExitCode = 5;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Runs the launch; returns the exit code (0 started, 1 failed, 5 daemon not running).</summary>
    public static async Task<int> RunAsync(
        LaunchRequestOptions request, string socketPath, string tmuxSocketName, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (!File.Exists(socketPath))
        {
            return DaemonDown(error, socketPath, "there is no socket at " + socketPath);
        }

        var launchId = Guid.NewGuid().ToString();
        var call = new LocalLaunchRequest
        {
            LaunchId = launchId,
            Cwd = request.WorkingDirectory,
            Name = request.Name ?? string.Empty,
            Prompt = request.Prompt ?? string.Empty,
        };
        call.ClaudeArgs.AddRange(request.ClaudeArguments);

        LaunchResult result;
        try
        {
            using var channel = GrpcChannel.ForAddress("unix:" + socketPath);
            var client = new LocalAgent.LocalAgentClient(channel);
            result = await client.LaunchAsync(call, deadline: DateTime.UtcNow + request.Timeout, cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            return DaemonDown(error, socketPath, "nothing answers on its socket");
        }
        catch (RpcException ex)
        {
            error.WriteLine("relay-agent: the daemon refused the launch: " + (string.IsNullOrEmpty(ex.Status.Detail) ? ex.StatusCode.ToString() : ex.Status.Detail));
            return 1;
        }

        var session = TmuxSession(result.TmuxTarget);
        var attach = session.Length > 0 ? "tmux -L " + tmuxSocketName + " attach -t " + session : string.Empty;
        if (request.Json)
        {
            var json = new JsonObject
            {
                ["launch_id"] = string.IsNullOrEmpty(result.LaunchId) ? launchId : result.LaunchId,
                ["started"] = result.Started,
                ["error"] = result.Started ? null : result.Error,
                ["name"] = result.Name,
                ["cwd"] = result.Session?.Cwd is { Length: > 0 } cwd ? cwd : request.WorkingDirectory,
                ["claude_session_id"] = result.Session?.ClaudeSessionId ?? string.Empty,
                ["claude_pid"] = result.Session?.ClaudePid ?? 0,
                ["tmux_socket"] = tmuxSocketName,
                ["tmux_target"] = result.TmuxTarget,
                ["attach"] = attach,
            };
            output.WriteLine(json.ToJsonString(Indented));
        }
        else if (result.Started)
        {
            output.WriteLine("Started Claude in tmux session '" + session + "' (target " + result.TmuxTarget + ", pid " +
                             (result.Session?.ClaudePid ?? 0).ToString(CultureInfo.InvariantCulture) + ").");
            output.WriteLine("  Claude session id: " + result.Session?.ClaudeSessionId);
            output.WriteLine("  launch id:         " + (string.IsNullOrEmpty(result.LaunchId) ? launchId : result.LaunchId));
            output.WriteLine("  attach:            " + attach);
            if (!string.IsNullOrEmpty(request.Prompt))
            {
                output.WriteLine("The prompt is delivered through the channel as soon as it attaches.");
            }
        }

        if (!result.Started)
        {
            error.WriteLine("relay-agent: the launch failed: " + result.Error);
            return 1;
        }

        return 0;
    }

    private static string TmuxSession(string target) => target.Split(':', 2)[0];

    private static int DaemonDown(TextWriter error, string socketPath, string detail)
    {
        error.WriteLine("relay-agent: the agent daemon is not running (" + detail + ").");
        error.WriteLine("Start it with 'systemctl --user start relay-agent' (or 'relay-agent run'), then launch again. Socket: " + socketPath);
        return DaemonUnavailableExitCode;
    }
}
