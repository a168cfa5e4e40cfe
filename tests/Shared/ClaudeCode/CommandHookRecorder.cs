using System.Text.Json.Nodes;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// Command hooks that record their stdin: a tiny <c>/bin/sh</c> script writes each payload to a file in a folder of
/// <see cref="ClaudeCodeHome.Root"/>, then prints the canned answer set with <see cref="RespondWith"/> (if any) and
/// exits with the set code. Read the payloads after <c>claude -p</c> has exited (every hook has run by then).
/// </summary>
public sealed class CommandHookRecorder
{
    private const string Script = """
        #!/bin/sh
        # $1 = hook event. Stdin = the hook input JSON.
        dir="$(dirname "$0")"
        file="$dir/payloads/$1.$(date +%s%N).$$.json"
        cat > "$file.tmp" && mv "$file.tmp" "$file"
        [ -f "$dir/answers/$1.json" ] && cat "$dir/answers/$1.json"
        [ -f "$dir/answers/$1.stderr" ] && cat "$dir/answers/$1.stderr" >&2
        [ -f "$dir/answers/$1.exit" ] && exit "$(cat "$dir/answers/$1.exit")"
        exit 0
        """;

    private readonly string _directory;

    public CommandHookRecorder(ClaudeCodeHome home)
    {
        _directory = home.PathFor("command-hooks");
        Directory.CreateDirectory(Path.Combine(_directory, "payloads"));
        Directory.CreateDirectory(Path.Combine(_directory, "answers"));
        ScriptPath = Path.Combine(_directory, "record.sh");
        File.WriteAllText(ScriptPath, Script.ReplaceLineEndings("\n") + "\n");
        File.SetUnixFileMode(ScriptPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public string ScriptPath { get; }

    /// <summary>The shell-form command to configure for <paramref name="hookEvent"/>.</summary>
    public string CommandFor(string hookEvent) => $"{ScriptPath} {hookEvent}";

    /// <summary>Adds a recording command hook for each event to <paramref name="settings"/>.</summary>
    public HookSettings AddTo(HookSettings settings, params string[] hookEvents)
    {
        foreach (var hookEvent in hookEvents)
        {
            settings.Command(hookEvent, CommandFor(hookEvent));
        }

        return settings;
    }

    /// <summary>What the hook prints on stdout for this event (JSON output or plain text), its stderr and exit code.</summary>
    public void RespondWith(string hookEvent, JsonNode? stdout, int exitCode = 0, string? stderr = null)
    {
        var answers = Path.Combine(_directory, "answers");
        if (stdout is not null)
        {
            File.WriteAllText(Path.Combine(answers, hookEvent + ".json"), stdout is JsonValue v && v.TryGetValue<string>(out var s) ? s : stdout.ToJsonString());
        }

        if (stderr is not null)
        {
            File.WriteAllText(Path.Combine(answers, hookEvent + ".stderr"), stderr);
        }

        File.WriteAllText(Path.Combine(answers, hookEvent + ".exit"), exitCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Every recorded payload, in firing order (file names start with a nanosecond timestamp).</summary>
    public IReadOnlyList<RecordedHook> All()
    {
        var empty = new Dictionary<string, string>();
        return Directory.GetFiles(Path.Combine(_directory, "payloads"), "*.json")
            .Select(f => (Name: Path.GetFileName(f), Path: f))
            .OrderBy(f => f.Name.Split('.')[1], StringComparer.Ordinal)
            .Select(f => new RecordedHook(f.Name.Split('.')[0], JsonNode.Parse(File.ReadAllText(f.Path))!.AsObject(), empty))
            .ToList();
    }

    /// <summary>The recorded payloads of one event, in firing order.</summary>
    public IReadOnlyList<RecordedHook> Of(string hookEvent) => All().Where(h => h.Event == hookEvent).ToList();
}
