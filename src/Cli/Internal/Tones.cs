using Relay.Protocol.V1;

namespace Relay.Cli.Internal;

/// <summary>Which colour a state gets in a table.</summary>
internal static class Tones
{
    public static Tone Of(SessionStatus status) => status switch
    {
        SessionStatus.Working => Tone.Good,
        SessionStatus.WaitingForApproval => Tone.Warn,
        SessionStatus.Ended => Tone.Dim,
        _ => Tone.Header,
    };

    public static Tone Of(PromptStatus status) => status switch
    {
        PromptStatus.Replied or PromptStatus.Seen or PromptStatus.Delivered => Tone.Good,
        PromptStatus.Expired or PromptStatus.Failed => Tone.Bad,
        _ => Tone.Warn,
    };

    public static Tone Of(ApprovalStatus status) => status switch
    {
        ApprovalStatus.Pending => Tone.Warn,
        ApprovalStatus.Allowed => Tone.Good,
        ApprovalStatus.Denied => Tone.Bad,
        _ => Tone.Dim,
    };

    public static Tone Of(LaunchStatus status) => status switch
    {
        LaunchStatus.Started => Tone.Good,
        LaunchStatus.Failed => Tone.Bad,
        _ => Tone.Warn,
    };

    public static Tone Online(bool online) => online ? Tone.Good : Tone.Bad;

    /// <summary>A state painted in its tone: <c>printer.State(s.Status)</c>.</summary>
    public static string State(this Printer printer, SessionStatus status) => printer.Paint(Show.Enum(status), Of(status));

    public static string State(this Printer printer, PromptStatus status) => printer.Paint(Show.Enum(status), Of(status));

    public static string State(this Printer printer, ApprovalStatus status) => printer.Paint(Show.Enum(status), Of(status));

    public static string State(this Printer printer, LaunchStatus status) => printer.Paint(Show.Enum(status), Of(status));
}
