using System.Reflection;

// The skeleton of relay-channel: the Claude Code channel (a stdio MCP server started by Claude Code).
// Its commands ((none: started by Claude Code)) arrive with their own issue; until then it says so and exits non-zero.
var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
switch (args)
{
    case ["--version"]:
        Console.Out.WriteLine("relay-channel " + version);
        return 0;
    case [] or ["--help"] or ["-h"]:
        Console.Out.WriteLine("relay-channel " + version + ": the Claude Code channel (a stdio MCP server started by Claude Code).");
        Console.Out.WriteLine("This build has no commands yet; they arrive with the relay-channel issue.");
        return args.Length == 0 ? 2 : 0;
    default:
        Console.Error.WriteLine("relay-channel: '" + string.Join(' ', args) + "' is not available in this build. Run 'relay-channel --help'.");
        return 2;
}
