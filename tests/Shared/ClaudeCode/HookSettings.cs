using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// Builds the <c>hooks</c> section of a Claude Code settings file (event → matcher groups → handlers,
/// reference §2.1), for <see cref="ClaudeCodeRunOptions.Settings"/>.
/// </summary>
public sealed class HookSettings
{
    private readonly JsonObject _hooks = [];

    /// <summary>Adds a <c>type: "command"</c> handler (shell form: run by <c>sh -c</c>).</summary>
    public HookSettings Command(string hookEvent, string command, string? matcher = null, int? timeoutSeconds = null)
    {
        var handler = new JsonObject { ["type"] = "command", ["command"] = command };
        if (timeoutSeconds is { } timeout)
        {
            handler["timeout"] = timeout;
        }

        return Add(hookEvent, matcher, handler);
    }

    /// <summary>
    /// Adds a <c>type: "http"</c> handler. Header values may reference <c>$VAR</c> / <c>${VAR}</c> for variables
    /// listed in <paramref name="allowedEnvVars"/> (verified with 2.1.328: they are interpolated).
    /// </summary>
    public HookSettings Http(
        string hookEvent, Uri url, IReadOnlyDictionary<string, string>? headers = null, IReadOnlyList<string>? allowedEnvVars = null, string? matcher = null)
    {
        var handler = new JsonObject { ["type"] = "http", ["url"] = url.ToString() };
        if (headers is not null)
        {
            var h = new JsonObject();
            foreach (var (name, value) in headers)
            {
                h[name] = value;
            }

            handler["headers"] = h;
        }

        if (allowedEnvVars is not null)
        {
            handler["allowedEnvVars"] = new JsonArray(allowedEnvVars.Select(v => (JsonNode?)v).ToArray());
        }

        return Add(hookEvent, matcher, handler);
    }

    /// <summary>Adds any handler object as given (e.g. with <c>args</c>, <c>async</c>, <c>if</c>).</summary>
    public HookSettings Add(string hookEvent, string? matcher, JsonObject handler)
    {
        if (_hooks[hookEvent] is not JsonArray groups)
        {
            groups = [];
            _hooks[hookEvent] = groups;
        }

        var group = new JsonObject();
        if (matcher is not null)
        {
            group["matcher"] = matcher;
        }

        group["hooks"] = new JsonArray(handler);
        groups.Add(group);
        return this;
    }

    /// <summary>The settings object: <c>{"hooks":{…}}</c> plus anything in <paramref name="extra"/>.</summary>
    public JsonObject Build(JsonObject? extra = null)
    {
        var settings = extra?.DeepClone().AsObject() ?? [];
        settings["hooks"] = _hooks.DeepClone();
        return settings;
    }
}
