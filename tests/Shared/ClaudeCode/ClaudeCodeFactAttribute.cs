namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// A fact that needs the real Claude Code CLI. xunit 2 cannot skip at run time, so the attribute sets
/// <see cref="FactAttribute.Skip"/> when the CLI (or tmux, with <see cref="RequiresTmux"/>) is missing: the test
/// is reported as skipped with the reason and the fix, never as a silent pass.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class ClaudeCodeFactAttribute : FactAttribute
{
    public ClaudeCodeFactAttribute()
    {
        Skip = ClaudeCodeInstallation.MissingReason;
    }

    /// <summary>Also skip (with a reason) when tmux is missing; for interactive-mode tests.</summary>
    public bool RequiresTmux
    {
        get => field;
        set
        {
            field = value;
            Skip = ClaudeCodeInstallation.MissingReason ?? (value ? ClaudeCodeInstallation.TmuxMissingReason : null);
        }
    }
}
