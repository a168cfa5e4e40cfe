using System.ComponentModel.DataAnnotations;

namespace Relay.Agent.Hooks;

/// <summary>
/// How the agent answers hooks. Bound from <c>Agent:Hooks</c> (<c>RELAY_AGENT__HOOKS__ANSWERTIMEOUT=00:00:00.200</c>).
/// Every bound is a promise to Claude Code: the hook is answered within it whether or not the broker, the responder or
/// the disk keep up (an empty answer when they do not).
/// </summary>
internal sealed class HookOptions : IValidatableObject
{
    public const string SectionName = "Agent:Hooks";

    /// <summary>The answer bound of ordinary hooks (PreToolUse, PostToolUse, SessionStart, ...). Default 150 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.020", "00:00:10", ErrorMessage = "Agent:Hooks:AnswerTimeout must be between 20 ms and 10 s, e.g. 00:00:00.150.")]
    public TimeSpan AnswerTimeout { get; set; } = TimeSpan.FromMilliseconds(150);

    /// <summary>
    /// The answer bound of PermissionRequest: Claude Code holds its own permission dialog until the hook answers, so this
    /// is how long a remote verdict may take to arrive. Keep it above Agent:Local:PermissionHoldTimeout (25 s, after
    /// which the approval is closed as unanswered) and below the hook's <c>timeout</c> in Claude Code's settings
    /// (60 s as <c>relay-agent install</c> writes it). Default 28 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.020", "00:10:00", ErrorMessage = "Agent:Hooks:PermissionRequestTimeout must be between 20 ms and 10 minutes, e.g. 00:00:28.")]
    public TimeSpan PermissionRequestTimeout { get; set; } = TimeSpan.FromSeconds(28);

    /// <summary>The answer bound of Stop and SubagentStop (a fallback prompt may be handed over there). Default 300 ms.</summary>
    [Range(typeof(TimeSpan), "00:00:00.020", "00:00:30", ErrorMessage = "Agent:Hooks:StopTimeout must be between 20 ms and 30 s, e.g. 00:00:00.300.")]
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// The part of every bound kept for the spool write after the responder: the responder is cancelled this long before
    /// the bound so the event (with the answer) can be made durable before the answer goes out. Default 50 ms.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.005", "00:00:05", ErrorMessage = "Agent:Hooks:SpoolReserve must be between 5 ms and 5 s, e.g. 00:00:00.050.")]
    public TimeSpan SpoolReserve { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Payloads larger than this (UTF-8 bytes) are stored as a JSON stand-in that keeps the small fields
    /// (HookEvent.raw_json_truncated). Default 256 KiB.
    /// </summary>
    [Range(4 * 1024, 4 * 1024 * 1024, ErrorMessage = "Agent:Hooks:MaxStoredPayloadBytes must be between 4096 and 4194304.")]
    public int MaxStoredPayloadBytes { get; set; } = 256 * 1024;

    /// <summary>The largest http hook body the endpoint reads; larger ones get 413. Default 32 MiB.</summary>
    [Range(64 * 1024, 256 * 1024 * 1024, ErrorMessage = "Agent:Hooks:MaxRequestBytes must be between 65536 and 268435456.")]
    public int MaxRequestBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>How often the drop directory of the command-hook client is replayed (also once at start). Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Agent:Hooks:DropReplayInterval must be between 1 s and 1 hour, e.g. 00:00:30.")]
    public TimeSpan DropReplayInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The answer bound for <paramref name="hookEventName"/>.</summary>
    public TimeSpan BoundFor(string hookEventName) => hookEventName switch
    {
        "PermissionRequest" => PermissionRequestTimeout,
        "Stop" or "SubagentStop" => StopTimeout,
        _ => AnswerTimeout,
    };

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var shortest = new[] { AnswerTimeout, PermissionRequestTimeout, StopTimeout }.Min();
        if (SpoolReserve >= shortest)
        {
            yield return new ValidationResult(
                "Agent:Hooks:SpoolReserve (" + SpoolReserve.TotalMilliseconds + " ms) must be shorter than every answer bound (the shortest is "
                + shortest.TotalMilliseconds + " ms): lower SpoolReserve or raise the timeouts.",
                [nameof(SpoolReserve)]);
        }
    }
}
