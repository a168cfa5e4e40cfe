using System.Reflection;

// The skeleton of relay-agent: the per-machine daemon (broker link, spool, local endpoints, launcher, installer).
// Its commands (enroll, run, install, uninstall, launch, hook, status, doctor) arrive with their own issue; until then it says so and exits non-zero.
var version = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
switch (args)
{
    case ["--version"]:
        Console.Out.WriteLine("relay-agent " + version);
        return 0;
    case [] or ["--help"] or ["-h"]:
        Console.Out.WriteLine("relay-agent " + version + ": the per-machine daemon (broker link, spool, local endpoints, launcher, installer).");
        Console.Out.WriteLine("This build has no commands yet; they arrive with the relay-agent issue.");
        return args.Length == 0 ? 2 : 0;
    default:
        Console.Error.WriteLine("relay-agent: '" + string.Join(' ', args) + "' is not available in this build. Run 'relay-agent --help'.");
        return 2;
}
