using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Relay.Agent.Config;

namespace Relay.Agent.Install;

/// <summary>A program and its leading arguments, as written into a Claude Code configuration entry.</summary>
/// <param name="Command">Absolute path of the executable.</param>
/// <param name="Arguments">Arguments that always come first (the dll when it runs under <c>dotnet</c>).</param>
internal sealed record ProgramCommand(string Command, IReadOnlyList<string> Arguments);

/// <summary>What <c>relay-agent install</c> writes.</summary>
/// <param name="HookUrl">The agent's loopback hook endpoint.</param>
/// <param name="HookSecret">The per-user secret the endpoint checks.</param>
/// <param name="HookTimeoutSeconds">Timeout of every http hook but PermissionRequest.</param>
/// <param name="PermissionTimeoutSeconds">Timeout of the PermissionRequest hook (held open for a remote verdict).</param>
/// <param name="Agent">relay-agent, for the SessionStart command hook.</param>
/// <param name="Channel">relay-channel, for the MCP server entry.</param>
internal sealed record InstallPlan(
    string HookUrl,
    string HookSecret,
    int HookTimeoutSeconds,
    int PermissionTimeoutSeconds,
    ProgramCommand Agent,
    ProgramCommand Channel)
{
    /// <summary>Timeout of the SessionStart command hook; the hook client itself gives up after about a second.</summary>
    public const int SessionStartTimeoutSeconds = 5;
}

/// <summary>
/// Relay's entries in Claude Code's user files, and how to recognise them again: an http handler carrying the
/// <see cref="AgentConfig.HookSecretHeader"/> header (or calling the agent's loopback <c>/hooks</c> URL), a command
/// handler running <c>relay-agent … hook</c>, and the <c>relay</c> MCP server running relay-channel. Everything else
/// belongs to the user and is never touched.
/// </summary>
internal static partial class RelayEntries
{
    /// <summary>The user-scope MCP server name; <c>--dangerously-load-development-channels server:relay</c> names it.</summary>
    public const string McpServerName = "relay";

    /// <summary>Adds or refreshes Relay's hooks in a settings object; true when something changed.</summary>
    /// <exception cref="InstallException">The user's <c>hooks</c> has a shape Claude Code would not accept.</exception>
    public static bool ApplyHooks(JsonObject settings, InstallPlan plan, string displayPath)
    {
        var desired = DesiredGroups(plan);
        var hooks = HooksObject(settings, displayPath);
        if (hooks is not null && IsUpToDate(hooks, desired, displayPath))
        {
            return false;
        }

        if (hooks is null)
        {
            hooks = [];
            settings["hooks"] = hooks;
        }

        var emptied = StripRelayHandlers(hooks, displayPath);
        foreach (var (eventName, group) in desired)
        {
            if (hooks[eventName] is not JsonArray groups)
            {
                groups = [];
                hooks[eventName] = groups;
            }

            groups.Add(group);
            emptied.Remove(eventName);
        }

        foreach (var eventName in emptied)
        {
            hooks.Remove(eventName);
        }

        return true;
    }

    /// <summary>Removes Relay's hooks (and the groups, event lists and <c>hooks</c> object they alone made up).</summary>
    public static bool RemoveHooks(JsonObject settings, string displayPath)
    {
        if (HooksObject(settings, displayPath) is not { } hooks || !ContainsRelayHandler(hooks, displayPath))
        {
            return false;
        }

        foreach (var eventName in StripRelayHandlers(hooks, displayPath))
        {
            hooks.Remove(eventName);
        }

        if (hooks.Count == 0)
        {
            settings.Remove("hooks");
        }

        return true;
    }

    /// <summary>True when <paramref name="settings"/> holds exactly the hooks <paramref name="plan"/> describes.</summary>
    public static bool HooksAreCurrent(JsonObject settings, InstallPlan plan, string displayPath) =>
        HooksObject(settings, displayPath) is { } hooks && IsUpToDate(hooks, DesiredGroups(plan), displayPath);

    /// <summary>Adds or refreshes <c>mcpServers.relay</c>; true when something changed.</summary>
    /// <exception cref="InstallException">A server named <c>relay</c> exists that is not relay-channel.</exception>
    public static bool ApplyMcpServer(JsonObject state, InstallPlan plan, string displayPath)
    {
        var desired = McpServer(plan.Channel);
        var servers = ServersObject(state, displayPath);
        if (servers is null)
        {
            state["mcpServers"] = new JsonObject { [McpServerName] = desired };
            return true;
        }

        var existing = servers[McpServerName];
        if (existing is not null && !IsRelayMcpServer(existing))
        {
            throw new InstallException(
                displayPath + " already has an MCP server named '" + McpServerName + "' that is not relay-channel (" +
                existing.ToJsonString() + "). Rename or remove it (claude mcp remove --scope user " + McpServerName + "), then run the command again.");
        }

        if (JsonNode.DeepEquals(existing, desired))
        {
            return false;
        }

        servers[McpServerName] = desired;
        return true;
    }

    /// <summary>Removes <c>mcpServers.relay</c> when it is relay-channel (and <c>mcpServers</c> when that leaves it empty).</summary>
    public static bool RemoveMcpServer(JsonObject state, string displayPath)
    {
        if (ServersObject(state, displayPath) is not { } servers || servers[McpServerName] is not { } existing || !IsRelayMcpServer(existing))
        {
            return false;
        }

        servers.Remove(McpServerName);
        if (servers.Count == 0)
        {
            state.Remove("mcpServers");
        }

        return true;
    }

    /// <summary>The <c>mcpServers.relay</c> entry for <paramref name="channel"/>.</summary>
    public static JsonObject McpServer(ProgramCommand channel) => new()
    {
        ["type"] = "stdio",
        ["command"] = channel.Command,
        ["args"] = StringArray(channel.Arguments),
        ["env"] = new JsonObject(),
    };

    /// <summary>True for a handler Relay wrote (any version, any port, any secret).</summary>
    public static bool IsRelayHandler(JsonNode? handler)
    {
        if (handler is not JsonObject h)
        {
            return false;
        }

        switch (Text(h["type"]))
        {
            case "http":
                return (h["headers"] is JsonObject headers &&
                        headers.Any(p => string.Equals(p.Key, AgentConfig.HookSecretHeader, StringComparison.OrdinalIgnoreCase))) ||
                       (Text(h["url"]) is { } url && AgentHookUrl().IsMatch(url));
            case "command":
                var args = h["args"] is JsonArray a ? a.Select(Text).ToList() : [];
                return args.Count > 0 && args[^1] == "hook" &&
                       (IsProgram(Text(h["command"]), "relay-agent") || args.Exists(x => IsProgram(x, "relay-agent")));
            default:
                return false;
        }
    }

    /// <summary>True for an MCP server entry that runs relay-channel.</summary>
    public static bool IsRelayMcpServer(JsonNode? server) =>
        server is JsonObject s &&
        (IsProgram(Text(s["command"]), "relay-channel") ||
         (s["args"] is JsonArray args && args.Any(x => IsProgram(Text(x), "relay-channel"))));

    /// <summary>Every handler group Relay wants, by event.</summary>
    public static IReadOnlyList<(string Event, JsonObject Group)> DesiredGroups(InstallPlan plan)
    {
        var groups = new List<(string, JsonObject)>();
        foreach (var eventName in ClaudeHookEvents.Http)
        {
            var timeout = eventName == ClaudeHookEvents.PermissionRequest ? plan.PermissionTimeoutSeconds : plan.HookTimeoutSeconds;
            groups.Add((eventName, Group(new JsonObject
            {
                ["type"] = "http",
                ["url"] = plan.HookUrl,
                ["headers"] = new JsonObject { [AgentConfig.HookSecretHeader] = plan.HookSecret },
                ["timeout"] = timeout,
            })));
        }

        groups.Add((ClaudeHookEvents.SessionStart, Group(new JsonObject
        {
            ["type"] = "command",
            ["command"] = plan.Agent.Command,
            ["args"] = StringArray([.. plan.Agent.Arguments, "hook"]),
            ["timeout"] = InstallPlan.SessionStartTimeoutSeconds,
        })));
        return groups;
    }

    // No "matcher": an omitted matcher matches everything, on every event (a "*" would be a literal file name for
    // some events).
    private static JsonObject Group(JsonObject handler) => new() { ["hooks"] = new JsonArray(handler) };

    private static bool IsUpToDate(JsonObject hooks, IReadOnlyList<(string Event, JsonObject Group)> desired, string displayPath)
    {
        var wanted = desired.ToDictionary(d => d.Event, d => d.Group, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (eventName, value) in hooks)
        {
            foreach (var group in Groups(value, eventName, displayPath))
            {
                var relayHandlers = Handlers(group, eventName, displayPath).Count(IsRelayHandler);
                if (relayHandlers == 0)
                {
                    continue;
                }

                if (!wanted.TryGetValue(eventName, out var want) || !JsonNode.DeepEquals(group, want) || !seen.Add(eventName))
                {
                    return false;
                }
            }
        }

        return seen.Count == wanted.Count;
    }

    private static bool ContainsRelayHandler(JsonObject hooks, string displayPath) =>
        hooks.Any(e => Groups(e.Value, e.Key, displayPath).Any(g => Handlers(g, e.Key, displayPath).Any(IsRelayHandler)));

    // Removes Relay's handlers everywhere, and the groups that held nothing else. Returns the events whose lists
    // this emptied (the caller decides whether to drop them).
    private static HashSet<string> StripRelayHandlers(JsonObject hooks, string displayPath)
    {
        var emptied = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (eventName, value) in hooks.ToList())
        {
            var groups = Groups(value, eventName, displayPath);
            var changed = false;
            foreach (var group in groups.ToList())
            {
                if (group["hooks"] is not JsonArray handlers)
                {
                    continue;
                }

                var ours = handlers.Where(IsRelayHandler).ToList();
                if (ours.Count == 0)
                {
                    continue;
                }

                changed = true;
                foreach (var handler in ours)
                {
                    handlers.Remove(handler);
                }

                if (handlers.Count == 0)
                {
                    ((JsonArray)value!).Remove(group);
                }
            }

            if (changed && groups.Count > 0 && ((JsonArray)value!).Count == 0)
            {
                emptied.Add(eventName);
            }
        }

        return emptied;
    }

    private static JsonObject? HooksObject(JsonObject settings, string displayPath) => settings["hooks"] switch
    {
        null => null,
        JsonObject hooks => hooks,
        _ => throw new InstallException(displayPath + ": \"hooks\" is not an object. Fix it and run the command again; nothing was written."),
    };

    private static JsonObject? ServersObject(JsonObject state, string displayPath) => state["mcpServers"] switch
    {
        null => null,
        JsonObject servers => servers,
        _ => throw new InstallException(displayPath + ": \"mcpServers\" is not an object. Fix it and run the command again; nothing was written."),
    };

    private static List<JsonObject> Groups(JsonNode? value, string eventName, string displayPath)
    {
        if (value is not JsonArray array || array.Any(g => g is not JsonObject))
        {
            throw new InstallException(displayPath + ": \"hooks." + eventName + "\" is not a list of matcher groups. Fix it and run the command again; nothing was written.");
        }

        return array.Cast<JsonObject>().ToList();
    }

    private static List<JsonNode?> Handlers(JsonObject group, string eventName, string displayPath) => group["hooks"] switch
    {
        JsonArray handlers => [.. handlers],
        null => [],
        _ => throw new InstallException(displayPath + ": a matcher group of \"hooks." + eventName + "\" has a \"hooks\" that is not a list. Fix it and run the command again; nothing was written."),
    };

    private static JsonArray StringArray(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static bool IsProgram(string? path, string name) =>
        path is not null && (Path.GetFileName(path) == name || Path.GetFileName(path) == name + ".dll");

    [GeneratedRegex(@"^http://127\.0\.0\.1:\d+/hooks$", RegexOptions.CultureInvariant)]
    private static partial Regex AgentHookUrl();
}
