using Relay.Broker.Queries;
using Relay.Broker.Validation;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Launches;

/// <summary>Checks of LaunchSession's fields beyond the shared ones.</summary>
internal static class LaunchRequestValidation
{
    public const int MaxClaudeArgs = 64;
    public const int MaxClaudeArgChars = 4096;

    // The launcher sets these itself (DESIGN.md §4); a caller's copy would fight it.
    private static readonly string[] LauncherOwnedFlags =
        ["--session-id", "--dangerously-load-development-channels", "--resume", "--continue", "-r", "-c", "--print", "-p"];

    public static string Cwd(string cwd)
    {
        RequestValidation.Text(cwd, "cwd", Persistence.Limits.Path, required: false);
        if (cwd.Length > 0 && !cwd.StartsWith('/'))
        {
            throw AdminErrors.InvalidArgument("cwd", $"'{Require.Shorten(cwd)}' is not an absolute path; give the full directory on the machine, or leave it empty for the agent's default.");
        }

        return cwd;
    }

    public static List<string> ClaudeArgs(IReadOnlyList<string> args)
    {
        if (args.Count > MaxClaudeArgs)
        {
            throw AdminErrors.InvalidArgument("claude_args", $"at most {MaxClaudeArgs} arguments (got {args.Count}).");
        }

        for (var i = 0; i < args.Count; i++)
        {
            RequestValidation.Text(args[i], $"claude_args[{i}]", MaxClaudeArgChars, required: false);
            var flag = args[i].Split('=', 2)[0];
            if (LauncherOwnedFlags.Contains(flag, StringComparer.Ordinal))
            {
                throw AdminErrors.InvalidArgument($"claude_args[{i}]", $"{flag} is set by the launcher itself; leave it out.");
            }
        }

        return args.ToList();
    }

    public static void Machine(Pb.LaunchSessionRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Machine))
        {
            throw AdminErrors.InvalidArgument("machine", "is required: the id or name of the machine to launch on (relayctl machines list).");
        }
    }
}
