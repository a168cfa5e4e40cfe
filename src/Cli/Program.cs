using System.Reflection;

// The skeleton of relayctl: the admin CLI for people and scripts.
// Its commands (machines, sessions, send, watch, approvals, launch, stop, briefings, policy, tokens, audit, status) arrive with their own issue; until then it says so and exits non-zero.
var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
switch (args)
{
    case ["--version"]:
        Console.Out.WriteLine("relayctl " + version);
        return 0;
    case [] or ["--help"] or ["-h"]:
        Console.Out.WriteLine("relayctl " + version + ": the admin CLI for people and scripts.");
        Console.Out.WriteLine("This build has no commands yet; they arrive with the relayctl issue.");
        return args.Length == 0 ? 2 : 0;
    default:
        Console.Error.WriteLine("relayctl: '" + string.Join(' ', args) + "' is not available in this build. Run 'relayctl --help'.");
        return 2;
}
