using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// A throw-away machine account for one Claude Code run: a temporary HOME (with the XDG directories inside it, so
/// nothing of the real user's configuration is read or written) and a project directory to start Claude in.
/// Deleted on dispose.
/// </summary>
public sealed class ClaudeCodeHome : IDisposable
{
    public ClaudeCodeHome(string prefix = "relay-claude-")
    {
        Root = Path.Combine("/tmp", prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
        Home = Path.Combine(Root, "home");
        ProjectDirectory = Path.Combine(Root, "project");
        foreach (var dir in new[] { Home, ProjectDirectory, ConfigHome, CacheHome, DataHome, StateHome, ClaudeDirectory, TempDirectory })
        {
            Directory.CreateDirectory(dir);
        }
    }

    /// <summary>The temporary root; <see cref="Home"/> and <see cref="ProjectDirectory"/> are inside it.</summary>
    public string Root { get; }

    /// <summary>HOME for the Claude process.</summary>
    public string Home { get; }

    /// <summary>The working directory Claude starts in (not a git repository).</summary>
    public string ProjectDirectory { get; }

    public string ConfigHome => Path.Combine(Home, ".config");

    public string CacheHome => Path.Combine(Home, ".cache");

    public string DataHome => Path.Combine(Home, ".local", "share");

    public string StateHome => Path.Combine(Home, ".local", "state");

    /// <summary>TMPDIR for the Claude process.</summary>
    public string TempDirectory => Path.Combine(Root, "tmp");

    /// <summary><c>~/.claude</c>: user settings, transcripts (projects/), debug logs.</summary>
    public string ClaudeDirectory => Path.Combine(Home, ".claude");

    /// <summary><c>~/.claude.json</c>: onboarding state, trust per project, approved API keys, user MCP servers.</summary>
    public string ClaudeJsonPath => Path.Combine(Home, ".claude.json");

    /// <summary>A scratch path inside <see cref="Root"/> for a test's own files (hook scripts, settings, logs).</summary>
    public string PathFor(string name) => Path.Combine(Root, name);

    /// <summary>
    /// Where Claude Code writes the transcript of a session started in <see cref="ProjectDirectory"/>: the project
    /// key is the directory with every non-alphanumeric character replaced by '-'.
    /// </summary>
    public string TranscriptPath(Guid sessionId)
    {
        var key = new string(ProjectDirectory.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
        return Path.Combine(ClaudeDirectory, "projects", key, sessionId + ".jsonl");
    }

    /// <summary>Reads <c>~/.claude.json</c> (an empty object when it does not exist yet).</summary>
    public JsonObject ReadClaudeJson() =>
        File.Exists(ClaudeJsonPath) ? JsonNode.Parse(File.ReadAllText(ClaudeJsonPath))!.AsObject() : [];

    /// <summary>Replaces <c>~/.claude.json</c>.</summary>
    public void WriteClaudeJson(JsonObject content) => File.WriteAllText(ClaudeJsonPath, content.ToJsonString());

    /// <summary>
    /// Pre-answers the first-run screens of interactive mode (reference §0): onboarding done, the API key
    /// approved, and the workspace trust dialog accepted for <paramref name="directory"/>
    /// (default: <see cref="ProjectDirectory"/>). Merged into whatever <c>~/.claude.json</c> already holds.
    /// </summary>
    public void PreApproveInteractive(string apiKey, string? directory = null)
    {
        var json = ReadClaudeJson();
        json["hasCompletedOnboarding"] = true;
        // 2.1.328 stores (and looks up) the key's last 20 characters, not the whole key as reference §0 says.
        json["customApiKeyResponses"] = new JsonObject { ["approved"] = new JsonArray(apiKey[^Math.Min(20, apiKey.Length)..]), ["rejected"] = new JsonArray() };
        var projects = json["projects"] as JsonObject ?? [];
        json["projects"] = projects;
        var project = projects[directory ?? ProjectDirectory] as JsonObject ?? [];
        projects[directory ?? ProjectDirectory] = project;
        project["hasTrustDialogAccepted"] = true;
        project["hasCompletedProjectOnboarding"] = true;
        WriteClaudeJson(json);
    }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Root))
            {
                Directory.Delete(Root, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a hook or MCP server that outlived Claude may still hold a file.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}
