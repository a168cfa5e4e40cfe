using Relay.Agent.Launch;

namespace Relay.Agent.Install;

/// <summary>
/// Where relay-agent and relay-channel are, as Claude Code must be told to run them: the published executables
/// beside this one, or — when relay-agent runs as <c>dotnet relay-agent.dll</c> — <c>dotnet</c> with the dll as its
/// first argument. Claude Code runs them with absolute paths, so nothing depends on its PATH.
/// </summary>
internal static class RelayPrograms
{
    /// <summary>relay-agent as this process was started.</summary>
    public static ProgramCommand Agent()
    {
        var process = Environment.ProcessPath;
        if (process is not null && !IsDotnetHost(process))
        {
            return new ProgramCommand(process, []);
        }

        return new ProgramCommand(DotnetHost(), [Path.Combine(AppContext.BaseDirectory, "relay-agent.dll")]);
    }

    /// <summary>relay-channel beside this program, or null when it is not there.</summary>
    public static ProgramCommand? ChannelBesideAgent()
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "relay-channel");
        if (ExecutableSearch.IsExecutableFile(executable))
        {
            return new ProgramCommand(executable, []);
        }

        var dll = Path.Combine(AppContext.BaseDirectory, "relay-channel.dll");
        return File.Exists(dll) ? new ProgramCommand(DotnetHost(), [dll]) : null;
    }

    /// <summary>
    /// A program named on the command line: an executable, or a <c>.dll</c> to run under <c>dotnet</c>.
    /// </summary>
    /// <param name="path">The path given.</param>
    /// <param name="what">The program's name (relay-agent, relay-channel): the file must be called that, because
    /// uninstall recognises Relay's entries by it.</param>
    /// <exception cref="InstallException">There is no such file, or it has another name.</exception>
    public static ProgramCommand FromPath(string path, string what)
    {
        var full = Path.GetFullPath(path);
        if (Path.GetFileName(full) != what && Path.GetFileName(full) != what + ".dll")
        {
            throw new InstallException(
                full + " is not called " + what + " or " + what + ".dll; Relay recognises its own entries by that name, so use the real " + what + ".");
        }

        if (full.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            return File.Exists(full)
                ? new ProgramCommand(DotnetHost(), [full])
                : throw new InstallException(what + " not found: " + full + ".");
        }

        return ExecutableSearch.IsExecutableFile(full)
            ? new ProgramCommand(full, [])
            : throw new InstallException(what + " not found or not executable: " + full + ".");
    }

    private static bool IsDotnetHost(string path) => Path.GetFileNameWithoutExtension(path) == "dotnet";

    private static string DotnetHost() =>
        Environment.ProcessPath is { } process && IsDotnetHost(process)
            ? process
            : ExecutableSearch.Find("dotnet", Environment.GetEnvironmentVariable("PATH")) ?? "dotnet";
}
