using System.Reflection;
using Relay.Protocol.Local;
using Relay.Protocol.V1;

namespace Relay.Channel.Hosting;

/// <summary>
/// Who this channel is, read once at start from its environment and process: the values of ChannelHello. Claude Code
/// spawns one relay-channel per session, so the parent process is Claude Code itself.
/// </summary>
internal sealed record ChannelIdentity(
    string ClaudeSessionId,
    string LaunchId,
    int ClaudePid,
    string WorkingDirectory,
    string ProjectDirectory,
    string Version,
    int ChannelPid)
{
    /// <summary>The variable Claude Code sets to the session id the channel was spawned with.</summary>
    public const string SessionIdVariable = "CLAUDE_CODE_SESSION_ID";

    /// <summary>The variable Claude Code sets to the project root.</summary>
    public const string ProjectDirVariable = "CLAUDE_PROJECT_DIR";

    /// <summary>relay-channel's version (the assembly's informational version).</summary>
    public static string CurrentVersion { get; } =
        typeof(ChannelIdentity).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Reads the identity of the running process.</summary>
    public static ChannelIdentity FromProcess(Func<string, string?>? environment = null, IParentProcess? parent = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        parent ??= new ProcParentProcess();
        return new ChannelIdentity(
            environment(SessionIdVariable) ?? "",
            environment(LocalAgentPaths.LaunchIdVariable) ?? "",
            parent.ParentId(),
            Environment.CurrentDirectory,
            environment(ProjectDirVariable) ?? "",
            CurrentVersion,
            Environment.ProcessId);
    }

    /// <summary>The first message of an Attach stream.</summary>
    public ChannelHello ToHello(bool reattach) => new()
    {
        ClaudeSessionId = ClaudeSessionId,
        LaunchId = LaunchId,
        ClaudePid = ClaudePid,
        Cwd = WorkingDirectory,
        ProjectDir = ProjectDirectory,
        ChannelVersion = Version,
        ChannelPid = ChannelPid,
        Reattach = reattach,
    };
}
