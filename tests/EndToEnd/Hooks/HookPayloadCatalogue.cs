using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Relay.Tests.Shared.ClaudeCode;

namespace Relay.EndToEnd.Tests.Hooks;

/// <summary>
/// The checked-in examples under <c>tests/Shared/ClaudeCode/payloads/</c>: one sanitised input per event (SessionStart
/// also per non-startup source), taken from the catalogue runs. Set <see cref="RefreshVariable"/>=1 to rewrite them.
/// </summary>
internal static partial class HookPayloadCatalogue
{
    public const string RefreshVariable = "RELAY_REFRESH_HOOK_CATALOGUE";

    private static readonly JsonSerializerOptions Pretty = new()
    {
        WriteIndented = true,
        // Test data for people to read: keep '&', '<', '>' and non-ASCII as they are.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string DirectoryPath => Path.Combine(ClaudeCodeInstallation.PackageDirectory, "payloads");

    public static bool Refresh => Environment.GetEnvironmentVariable(RefreshVariable) == "1";

    /// <summary>The first sanitised payload per catalogue file name.</summary>
    public static SortedDictionary<string, JsonObject> Examples(HookCatalogueRuns runs)
    {
        var examples = new SortedDictionary<string, JsonObject>(StringComparer.Ordinal);
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var hook in runs.Command.All())
        {
            var source = (string?)hook.Payload["source"];
            var name = hook.Event + (hook.Event == "SessionStart" && source is not null and not "startup" ? "." + source : string.Empty);
            if (!examples.ContainsKey(name))
            {
                examples[name] = Sanitize(hook.Payload, runs, ids);
            }
        }

        return examples;
    }

    public static void Write(string name, JsonObject example)
    {
        Directory.CreateDirectory(DirectoryPath);
        File.WriteAllText(Path.Combine(DirectoryPath, name + ".json"), example.ToJsonString(Pretty) + "\n");
    }

    public static IReadOnlyDictionary<string, JsonObject> ReadAll() =>
        Directory.Exists(DirectoryPath)
            ? Directory.GetFiles(DirectoryPath, "*.json").ToDictionary(
                f => Path.GetFileNameWithoutExtension(f), f => JsonNode.Parse(File.ReadAllText(f))!.AsObject(), StringComparer.Ordinal)
            : new Dictionary<string, JsonObject>();

    /// <summary>Machine- and run-specific values replaced by fixed ones, so the files are stable and say nothing local.</summary>
    public static JsonObject Sanitize(JsonObject payload, HookCatalogueRuns runs, Dictionary<string, int> ids)
    {
        var home = runs.Home;
        var projectKey = Path.GetFileName(Path.GetDirectoryName(home.TranscriptPath(runs.SessionId)))!;
        var text = payload.ToJsonString()
            .Replace(projectKey, "-home-user-project", StringComparison.Ordinal)
            .Replace(home.ProjectDirectory, "/home/user/project", StringComparison.Ordinal)
            .Replace(home.TempDirectory, "/tmp/scratch", StringComparison.Ordinal)
            .Replace(home.Home, "/home/user", StringComparison.Ordinal)
            .Replace(home.Root, "/tmp/relay", StringComparison.Ordinal)
            .Replace(runs.SessionId.ToString(), "11111111-1111-4111-8111-111111111111", StringComparison.Ordinal)
            .Replace(runs.FailingSessionId.ToString(), "22222222-2222-4222-8222-222222222222", StringComparison.Ordinal);
        text = Uuid().Replace(text, m => m.Value.StartsWith("11111111-", StringComparison.Ordinal) || m.Value.StartsWith("22222222-", StringComparison.Ordinal)
            ? m.Value
            : "00000000-0000-4000-8000-" + Number(ids, m.Value, 12));
        text = ToolUseId().Replace(text, m => "toolu_stub_" + Number(ids, m.Value, 4));
        text = AgentId().Replace(text, m => "a" + Number(ids, m.Value, 16));
        return JsonNode.Parse(text)!.AsObject();
    }

    // Numbered in order of first appearance across the catalogue, so a refresh gives the same files and related
    // fields (an agent_id and its transcript path, a prompt_id across events) still match.
    private static string Number(Dictionary<string, int> ids, string value, int width)
    {
        if (!ids.TryGetValue(value, out var number))
        {
            number = ids.Count + 1;
            ids[value] = number;
        }

        return number.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(width, '0');
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")]
    private static partial Regex Uuid();

    [GeneratedRegex("toolu_stub_[0-9]+")]
    private static partial Regex ToolUseId();

    // Subagent ids: 'a' and 16 hex digits (agent_id, background_tasks[].id, the subagent transcript file name).
    [GeneratedRegex("(?<=[\"-])a[0-9a-f]{16}(?=[\".])")]
    private static partial Regex AgentId();
}
