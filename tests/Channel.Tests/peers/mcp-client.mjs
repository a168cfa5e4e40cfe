// A real MCP client (the npm @modelcontextprotocol/sdk, pinned in package.json) that drives relay-channel the way
// Claude Code's stdio client does, for tests/Channel.Tests (NodePeerTests). Usage:
//   node mcp-client.mjs <command> [args...]      (for example: node mcp-client.mjs dotnet relay-channel.dll)
// The channel inherits this process's environment. Every observation is printed as one JSON line on stdout:
//   {"kind":"initialize","result":{...}}          the initialize result as the SDK parsed it
//   {"kind":"tools","tools":[...]}                tools/list
//   {"kind":"ready"}                              handshake done; commands are read from stdin from now on
//   {"kind":"notification","method":...,"params":{...}}
//   {"kind":"tool_result","id":...,"result":{...}} / {"kind":"error","message":...}
// Commands, one JSON object per stdin line:
//   {"cmd":"call","id":"x","name":"reply","arguments":{...}}
//   {"cmd":"notify","method":"notifications/claude/channel/permission_request","params":{...}}
//   {"cmd":"close"}
import { createInterface } from "node:readline";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { z } from "zod";

const print = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const [command, ...args] = process.argv.slice(2);

const transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });

// The SDK tells a transport which protocol revision the handshake negotiated.
let protocolVersion;
transport.setProtocolVersion = (version) => { protocolVersion = version; };

const client = new Client({ name: "claude-code", version: "node-peer" }, { capabilities: {} });
for (const method of ["notifications/claude/channel", "notifications/claude/channel/permission"]) {
  client.setNotificationHandler(
    z.object({ method: z.literal(method), params: z.record(z.string(), z.unknown()).optional() }).passthrough(),
    (n) => print({ kind: "notification", method: n.method, params: n.params }));
}

try {
  await client.connect(transport);
  print({
    kind: "initialize",
    result: {
      protocolVersion,
      serverInfo: client.getServerVersion(),
      capabilities: client.getServerCapabilities(),
      instructions: client.getInstructions(),
    },
  });
  print({ kind: "tools", tools: (await client.listTools()).tools });
  print({ kind: "ready" });
} catch (e) {
  print({ kind: "error", message: String(e?.message ?? e) });
  process.exit(1);
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  try {
    if (command.cmd === "call") {
      const result = await client.callTool({ name: command.name, arguments: command.arguments });
      print({ kind: "tool_result", id: command.id, result });
    } else if (command.cmd === "notify") {
      await client.notification({ method: command.method, params: command.params });
      print({ kind: "notified", method: command.method });
    } else if (command.cmd === "close") {
      break;
    }
  } catch (e) {
    print({ kind: "error", message: String(e?.message ?? e) });
  }
}

await client.close();
print({ kind: "closed" });
// readline still holds stdin open; leave explicitly (stdout writes to a pipe are synchronous on Linux).
process.exit(0);
