using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Relay.Channel.Tests.Infrastructure;

/// <summary>
/// peers/mcp-client.mjs: the npm <c>@modelcontextprotocol/sdk</c> client as a real MCP peer. It spawns relay-channel
/// over stdio, prints what it sees as JSON lines, and takes commands on stdin.
/// </summary>
internal sealed class NodePeer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stderr = [];

    private NodePeer(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                Lines.Add(JsonNode.Parse(line)!.AsObject());
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.Add(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Everything the peer printed, in order.</summary>
    public MessageLog<JsonObject> Lines { get; } = new();

    /// <summary>The peer's and the channel's stderr.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return string.Join('\n', _stderr);
            }
        }
    }

    public static string PeersDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "Channel.Tests", "peers");
                if (File.Exists(Path.Combine(candidate, "mcp-client.mjs")))
                {
                    return candidate;
                }
            }

            throw new InvalidOperationException("tests/Channel.Tests/peers was not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>
    /// Starts the peer, which spawns <paramref name="channelCommand"/> (default: <c>dotnet relay-channel.dll</c> from
    /// beside the tests) as its MCP server.
    /// </summary>
    public static NodePeer Start(IReadOnlyDictionary<string, string?> environment, IReadOnlyList<string>? channelCommand = null)
    {
        var peers = PeersDirectory;
        if (!Directory.Exists(Path.Combine(peers, "node_modules", "@modelcontextprotocol", "sdk")))
        {
            throw new InvalidOperationException($"The npm MCP SDK is not installed in {peers}: run scripts/prereqs.sh (it runs `npm ci` there).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = peers,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("mcp-client.mjs");
        foreach (var arg in channelCommand ?? ["dotnet", Path.Combine(AppContext.BaseDirectory, "relay-channel.dll")])
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new NodePeer(Process.Start(start)!);
    }

    public Task<JsonObject> WaitForAsync(string kind, CancellationToken cancellationToken, Func<JsonObject, bool>? match = null) =>
        Lines.WaitForAsync(l => (string?)l["kind"] == kind && (match?.Invoke(l) ?? true) ? l : null, cancellationToken);

    public async Task SendAsync(JsonObject command)
    {
        await _process.StandardInput.WriteLineAsync(command.ToJsonString());
        await _process.StandardInput.FlushAsync();
    }

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
