using System.Reflection;

// The skeleton of relay-broker: the team-wide broker (agents, sessions, prompts, approvals; PostgreSQL).
// Its commands (run, migrate) arrive with their own issue; until then it says so and exits non-zero.
var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
switch (args)
{
    case ["--version"]:
        Console.Out.WriteLine("relay-broker " + version);
        return 0;
    case [] or ["--help"] or ["-h"]:
        Console.Out.WriteLine("relay-broker " + version + ": the team-wide broker (agents, sessions, prompts, approvals; PostgreSQL).");
        Console.Out.WriteLine("This build has no commands yet; they arrive with the relay-broker issue.");
        return args.Length == 0 ? 2 : 0;
    default:
        Console.Error.WriteLine("relay-broker: '" + string.Join(' ', args) + "' is not available in this build. Run 'relay-broker --help'.");
        return 2;
}
