using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// Where the pinned Claude Code CLI lives: <c>tests/Shared/ClaudeCode/node_modules/.bin/claude</c>, installed by
/// <c>scripts/prereqs.sh</c> (<c>npm ci</c> beside this file's package-lock.json). Found from the repository root,
/// which is the first directory above <see cref="AppContext.BaseDirectory"/> that holds <c>Relay.sln</c>.
/// </summary>
public static class ClaudeCodeInstallation
{
    private static readonly Lazy<string?> Root = new(FindRepositoryRoot);

    /// <summary>The repository root, or null when the tests do not run from a checkout.</summary>
    public static string? RepositoryRoot => Root.Value;

    /// <summary>The folder holding package.json, package-lock.json, this harness and the payload catalogue.</summary>
    public static string PackageDirectory =>
        Path.Combine(RepositoryRoot ?? throw new InvalidOperationException(NoRepositoryMessage), "tests", "Shared", "ClaudeCode");

    /// <summary>The <c>claude</c> entry point (npm's bin link to the native executable).</summary>
    public static string EntryPoint => Path.Combine(PackageDirectory, "node_modules", ".bin", "claude");

    /// <summary>The exact version package.json pins (e.g. <c>2.1.328</c>).</summary>
    public static string PinnedVersion
    {
        get
        {
            var package = JsonNode.Parse(File.ReadAllText(Path.Combine(PackageDirectory, "package.json")));
            return (string?)package?["dependencies"]?["@anthropic-ai/claude-code"]
                ?? throw new InvalidOperationException("package.json does not pin @anthropic-ai/claude-code.");
        }
    }

    /// <summary>Null when the CLI can run; otherwise why not and how to fix it (used as the xunit skip reason).</summary>
    public static string? MissingReason
    {
        get
        {
            if (RepositoryRoot is null)
            {
                return NoRepositoryMessage;
            }

            // A placeholder stub stays in place when npm's postinstall did not copy the native binary over it.
            // .bin/claude is a symbolic link: measure what it points at.
            var entry = new FileInfo(EntryPoint);
            var target = entry.Exists ? entry.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? entry : entry;
            return target.Exists && target.Length > 1024 * 1024
                ? null
                : $"the Claude Code CLI is not installed at {EntryPoint}: run scripts/prereqs.sh (npm ci in tests/Shared/ClaudeCode)";
        }
    }

    /// <summary>Null when tmux is on PATH; otherwise the skip reason.</summary>
    public static string? TmuxMissingReason =>
        FindOnPath("tmux") is null ? "tmux is not installed: run scripts/prereqs.sh (it installs the Debian package)" : null;

    private const string NoRepositoryMessage = "Relay.sln was not found above the test assembly's directory";

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Relay.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
