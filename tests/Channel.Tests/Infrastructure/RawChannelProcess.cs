using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Relay.Channel.Tests.Infrastructure;

/// <summary>
/// relay-channel started with plain pipes, for what an MCP client library would hide: every byte on stdout, the exit
/// code, and the process's reaction to stdin closing.
/// </summary>
internal sealed class RawChannelProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stderr = [];

    private RawChannelProcess(Process process)
    {
        _process = process;
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
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

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

    /// <summary>Every line read from stdout so far.</summary>
    public List<string> StdoutLines { get; } = [];

    public static RawChannelProcess Start(IReadOnlyDictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ChannelUnderTest.ChannelDll);
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new RawChannelProcess(Process.Start(start)!);
    }

    public async Task SendAsync(JsonObject message)
    {
        await _process.StandardInput.WriteLineAsync(message.ToJsonString());
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>The next stdout line (recorded in <see cref="StdoutLines"/>); null at end of stream.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = await _process.StandardOutput.ReadLineAsync(cancellationToken);
        if (line is not null)
        {
            StdoutLines.Add(line);
        }

        return line;
    }

    /// <summary>Reads stdout lines until one parses to a JSON-RPC response with <paramref name="id"/>.</summary>
    public async Task<JsonObject> ReadResponseAsync(int id, CancellationToken cancellationToken)
    {
        while (await ReadLineAsync(cancellationToken) is { } line)
        {
            if (JsonNode.Parse(line) is JsonObject message && message["id"] is JsonValue value && value.GetValue<int>() == id)
            {
                return message;
            }
        }

        throw new InvalidOperationException($"stdout ended before the response to request {id}. stderr:\n{Stderr}");
    }

    public void CloseStdin() => _process.StandardInput.Close();

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    public static JsonObject Initialize(int id = 1, string protocolVersion = "2025-06-18") => new()
    {
        ["jsonrpc"] = "2.0",
        ["id"] = id,
        ["method"] = "initialize",
        ["params"] = new JsonObject
        {
            ["protocolVersion"] = protocolVersion,
            ["capabilities"] = new JsonObject(),
            ["clientInfo"] = new JsonObject { ["name"] = "claude-code", ["version"] = "2.1.328" },
        },
    };

    public static JsonObject Initialized() => new() { ["jsonrpc"] = "2.0", ["method"] = "notifications/initialized" };

    public static JsonObject Request(int id, string method) => new() { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method };

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
