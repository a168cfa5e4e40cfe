using System.Text.Json.Nodes;
using Relay.Agent.Install;

namespace Relay.Agent.Launch;

/// <summary>
/// Pre-accepts Claude Code's workspace trust dialog for a launch directory (reference §3.4): in
/// <c>~/.claude.json</c>, <c>projects["&lt;key&gt;"].hasTrustDialogAccepted = true</c>, where the key is the git
/// repository root (the main checkout's root for a worktree) or the directory itself outside a repository. Uses the
/// installer's careful editing: every other key kept, atomic write, redone when Claude Code wrote the file meanwhile.
/// </summary>
internal static class WorkspaceTrust
{
    private const int MaxAttempts = 5;

    /// <summary>The key Claude Code uses for <paramref name="directory"/>.</summary>
    public static string ProjectKey(string directory)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        for (var current = new DirectoryInfo(full); current is not null; current = current.Parent)
        {
            var dotGit = Path.Combine(current.FullName, ".git");
            if (Directory.Exists(dotGit))
            {
                return current.FullName;
            }

            if (File.Exists(dotGit))
            {
                return MainCheckoutRoot(dotGit) ?? current.FullName;
            }
        }

        return full;
    }

    /// <summary>Marks <paramref name="directory"/>'s project trusted; true when the file changed.</summary>
    /// <exception cref="InstallException">The state file cannot be read or written.</exception>
    public static bool Trust(string stateFile, string directory)
    {
        var key = ProjectKey(directory);
        for (var attempt = 1; ; attempt++)
        {
            var file = JsonConfigFile.Load(stateFile, stateFile);
            if (file.Root["projects"] is not JsonObject projects)
            {
                if (file.Root["projects"] is not null)
                {
                    throw new InstallException(stateFile + ": \"projects\" is not an object; Claude Code cannot use it either. Fix it and launch again.");
                }

                projects = [];
                file.Root["projects"] = projects;
            }

            if (projects[key] is not JsonObject project)
            {
                project = [];
                projects[key] = project;
            }

            if (project["hasTrustDialogAccepted"] is JsonValue accepted && accepted.TryGetValue(out bool value) && value)
            {
                return false;
            }

            project["hasTrustDialogAccepted"] = true;
            try
            {
                file.Write(backupStamp: null, makePrivate: false);
                return true;
            }
            catch (ConcurrentChangeException) when (attempt < MaxAttempts)
            {
                // Claude Code rewrote the file between our read and our rename: read it again.
            }
            catch (ConcurrentChangeException ex)
            {
                throw new InstallException(ex.Message + " Launch again.");
            }
        }
    }

    // A worktree's .git is a file "gitdir: <main>/.git/worktrees/<name>"; its commondir points at the main .git.
    private static string? MainCheckoutRoot(string dotGitFile)
    {
        try
        {
            var line = File.ReadLines(dotGitFile).FirstOrDefault(l => l.StartsWith("gitdir:", StringComparison.Ordinal));
            if (line is null)
            {
                return null;
            }

            var gitDirectory = Path.GetFullPath(line["gitdir:".Length..].Trim(), Path.GetDirectoryName(dotGitFile)!);
            var commonFile = Path.Combine(gitDirectory, "commondir");
            var common = File.Exists(commonFile)
                ? Path.GetFullPath(File.ReadAllText(commonFile).Trim(), gitDirectory)
                : gitDirectory;
            return Path.GetFileName(Path.TrimEndingDirectorySeparator(common)) == ".git"
                ? Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(common))
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
