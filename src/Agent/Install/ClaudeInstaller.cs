using System.Globalization;

namespace Relay.Agent.Install;

/// <summary>
/// Writes Relay's entries into Claude Code's user files (<see cref="Install"/>) and takes exactly those out again
/// (<see cref="Uninstall"/>). Both files are read and checked before either is written, so a malformed file stops the
/// whole operation with nothing written.
/// </summary>
internal sealed class ClaudeInstaller(ClaudeConfigPaths paths, TimeProvider time, Func<string, string?> environment)
{
    // A running Claude Code rewrites ~/.claude.json now and then; an edit that loses that race is simply redone.
    private const int MaxAttempts = 5;

    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Adds or refreshes Relay's hooks and MCP server. Returns the exit code (0, or 1 with the reason on <paramref name="error"/>).</summary>
    public int Install(InstallPlan plan, bool dryRun, TextWriter output, TextWriter error) =>
        Run(dryRun, output, error, plan.HookSecret, (settings, state) =>
        {
            var hooksChanged = RelayEntries.ApplyHooks(settings.Root, plan, settings.DisplayPath);
            var serverChanged = RelayEntries.ApplyMcpServer(state.Root, plan, state.DisplayPath);
            return (
                hooksChanged ? "http hooks for " + ClaudeHookEvents.Http.Count.ToString(CultureInfo.InvariantCulture) + " events -> " + plan.HookUrl +
                    " (timeout " + Seconds(plan.HookTimeoutSeconds) + ", PermissionRequest " + Seconds(plan.PermissionTimeoutSeconds) + "); SessionStart -> " +
                    Describe(plan.Agent) + " hook" : null,
                serverChanged ? "user-scope MCP server '" + RelayEntries.McpServerName + "' -> " + Describe(plan.Channel) : null);
        });

    /// <summary>Removes Relay's hooks and MCP server. Returns the exit code.</summary>
    public int Uninstall(bool dryRun, TextWriter output, TextWriter error) =>
        Run(dryRun, output, error, secret: null, (settings, state) =>
        (
            RelayEntries.RemoveHooks(settings.Root, settings.DisplayPath) ? "removed Relay's hooks" : null,
            RelayEntries.RemoveMcpServer(state.Root, state.DisplayPath) ? "removed the MCP server '" + RelayEntries.McpServerName + "'" : null));

    private int Run(bool dryRun, TextWriter output, TextWriter error, string? secret, Func<JsonConfigFile, JsonConfigFile, (string? Settings, string? State)> edit)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var settings = JsonConfigFile.Load(paths.SettingsFile, Display(paths.SettingsFile));
                var state = JsonConfigFile.Load(paths.StateFile, Display(paths.StateFile));
                var (settingsChange, stateChange) = edit(settings, state);
                if (dryRun)
                {
                    Preview(settings, settingsChange, secret, output);
                    Preview(state, stateChange, secret, output);
                    output.WriteLine("Dry run: nothing was written.");
                    return 0;
                }

                var stamp = time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
                Apply(settings, settingsChange, stamp, holdsSecret: secret is not null, output);
                Apply(state, stateChange, stamp, holdsSecret: false, output);
                return 0;
            }
            catch (ConcurrentChangeException) when (attempt < MaxAttempts)
            {
                // Read both files again and redo the edit; what was already written is found up to date.
            }
            catch (Exception ex) when (ex is InstallException or ConcurrentChangeException)
            {
                error.WriteLine("relay-agent: " + ex.Message);
                return 1;
            }
        }
    }

    private static void Apply(JsonConfigFile file, string? change, string stamp, bool holdsSecret, TextWriter output)
    {
        // The settings file carries the hook secret: nobody but its owner may read it.
        var tighten = holdsSecret && file.IsGroupOrWorldAccessible;
        if (change is null || !file.IsChanged)
        {
            output.WriteLine(file.DisplayPath + ": already up to date.");
            if (tighten)
            {
                File.SetUnixFileMode(file.TargetPath, file.ExistingMode!.Value & PrivateMode);
                output.WriteLine("  mode tightened from " + Mode(file.ExistingMode) + " to 0600: it holds the hook secret.");
            }

            return;
        }

        var backup = file.Write(stamp, makePrivate: tighten);
        output.WriteLine((file.Exists ? "Updated " : "Created ") + file.DisplayPath + ": " + change + ".");
        if (backup is not null)
        {
            output.WriteLine("  backup: " + backup);
        }

        if (tighten)
        {
            output.WriteLine("  mode tightened from " + Mode(file.ExistingMode) + " to 0600: it holds the hook secret.");
        }

        if (file.WouldReformat)
        {
            output.WriteLine("  note: the file was rewritten with 2-space indentation; its content is otherwise as it was.");
        }
    }

    private static void Preview(JsonConfigFile file, string? change, string? secret, TextWriter output)
    {
        if (change is null || !file.IsChanged)
        {
            output.WriteLine(file.DisplayPath + ": no change.");
            return;
        }

        output.WriteLine(file.DisplayPath + ": would be " + (file.Exists ? "updated" : "created") + ": " + change + ".");
        var diff = TextDiff.Unified(file.Exists ? file.OriginalText : string.Empty, file.CurrentText, file.DisplayPath, file.DisplayPath + " (new)");
        // The diff goes to a terminal or a log: never print the secret itself.
        output.Write(string.IsNullOrEmpty(secret) ? diff : diff.Replace(secret, "<hook secret>", StringComparison.Ordinal));
        if (file.WouldReformat)
        {
            output.WriteLine("  note: the file would also be rewritten with 2-space indentation (the diff ignores that).");
        }
    }

    private string Display(string path) => ClaudeConfigPaths.Display(path, environment);

    private static string Describe(ProgramCommand program) => string.Join(' ', [program.Command, .. program.Arguments]);

    private static string Seconds(int seconds) => seconds.ToString(CultureInfo.InvariantCulture) + " s";

    private static string Mode(UnixFileMode? mode) =>
        "0" + Convert.ToString((int)(mode ?? 0), 8).PadLeft(3, '0');
}
