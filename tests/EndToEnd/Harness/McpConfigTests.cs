using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Harness;

/// <summary>
/// <c>--mcp-config</c> through the harness: Claude Code spawns a stdio MCP server, offers its tool to the model as
/// <c>mcp__&lt;server&gt;__&lt;tool&gt;</c>, and calls it when the stub says so (the shape relay-channel's reply tool will have).
/// </summary>
public sealed class McpConfigTests : IAsyncLifetime
{
    // A minimal stdio MCP server (newline-delimited JSON-RPC, classic initialize handshake) with one tool, `reply`,
    // that appends its arguments and the CLAUDE_CODE_SESSION_ID it was spawned with to a file.
    private const string Server = """
        import json, os, sys
        out = sys.argv[1]
        for line in sys.stdin:
            msg = json.loads(line)
            if "id" not in msg:
                continue
            method, result = msg.get("method"), None
            if method == "initialize":
                result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                          "serverInfo": {"name": "fake-relay", "version": "0.0.1"}}
            elif method == "tools/list":
                result = {"tools": [{"name": "reply", "description": "Send a reply to the team.",
                                     "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}]}
            elif method == "tools/call":
                with open(out, "a") as f:
                    f.write(json.dumps({"arguments": msg["params"]["arguments"], "session": os.environ.get("CLAUDE_CODE_SESSION_ID")}) + "\n")
                result = {"content": [{"type": "text", "text": "sent"}]}
            reply = {"jsonrpc": "2.0", "id": msg["id"]}
            if result is None:
                reply["error"] = {"code": -32601, "message": "no such method"}
            else:
                reply["result"] = result
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
        """;

    private readonly ClaudeCodeHome _home = new();
    private MessagesApiStub _stub = null!;

    public async Task InitializeAsync() => _stub = await MessagesApiStub.StartAsync();

    public async Task DisposeAsync()
    {
        await _stub.DisposeAsync();
        _home.Dispose();
    }

    [ClaudeCodeFact]
    public async Task McpConfig_StubCallsTheServersTool_ClaudeCodeCallsItWithTheSessionId()
    {
        using var timeout = TestTimeout.Start();
        var script = _home.PathFor("fake_mcp.py");
        var calls = _home.PathFor("mcp-calls.jsonl");
        await File.WriteAllTextAsync(script, Server, timeout.Token);
        _stub.EnqueueToolUse("mcp__relay__reply", new { text = "Reply mcp-16." }).EnqueueText("Replied.");
        var options = new ClaudeCodeRunOptions
        {
            Prompt = "Reply to the team.",
            McpConfig = new JsonObject
            {
                ["mcpServers"] = new JsonObject
                {
                    ["relay"] = new JsonObject { ["type"] = "stdio", ["command"] = "/usr/bin/python3", ["args"] = new JsonArray(script, calls) },
                },
            },
            AllowedTools = ["mcp__relay__reply"],
        };

        var run = await ClaudeCodeCli.RunAsync(_home, _stub.BaseUrl, options, timeout.Token);

        run.ExitCode.Should().Be(0, run.Describe());
        _stub.TurnRequests[0].MessagesContain("mcp__relay__reply").Should().BeTrue("2.1.328 lists MCP tools as deferred tools (ToolSearch) in a role:system message, not in tools[]");
        var call = JsonNode.Parse((await File.ReadAllLinesAsync(calls, timeout.Token)).Should().ContainSingle().Subject)!;
        ((string?)call["arguments"]!["text"]).Should().Be("Reply mcp-16.");
        ((string?)call["session"]).Should().Be(options.SessionId.ToString());
        _stub.TurnRequests[1].LastToolResults.Single().ToJsonString().Should().Contain("sent");
    }
}
