using Relay.Channel.Hosting;

// relay-channel: the Claude Code channel, a stdio MCP server Claude Code starts once per session (docs/channel.md).
switch (args)
{
    case ["--version"]:
        Console.Out.WriteLine("relay-channel " + ChannelIdentity.CurrentVersion);
        return 0;
    case ["--help"] or ["-h"]:
        Console.Out.WriteLine("relay-channel " + ChannelIdentity.CurrentVersion + ": the Claude Code channel (a stdio MCP server started by Claude Code).");
        Console.Out.WriteLine("Run without arguments, it speaks MCP on stdin/stdout and connects to relay-agent's socket. See docs/channel.md.");
        return 0;
    case []:
        return await ChannelHost.RunAsync(args);
    default:
        Console.Error.WriteLine("relay-channel: unknown arguments '" + string.Join(' ', args) + "'. It takes none (Claude Code starts it); see 'relay-channel --help'.");
        return 2;
}
