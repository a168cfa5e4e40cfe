using System.CommandLine;
using Relay.Protocol.V1;

namespace Relay.Cli.Internal;

/// <summary>Event kinds as people type them (<c>--kind prompt-created</c>) and one-line summaries of events.</summary>
internal static class Events
{
    /// <summary>Every kind by its kebab-case name: hook, prompt-created, reply, session-ended, machine-connected...</summary>
    public static readonly IReadOnlyDictionary<string, EventKind> Kinds = System.Enum.GetValues<EventKind>()
        .Where(k => k != EventKind.Unspecified)
        .ToDictionary(k => Show.Enum(k), k => k, StringComparer.Ordinal);

    /// <summary>A repeatable <c>--kind</c> option whose values complete and are checked against <paramref name="allowed"/>.</summary>
    public static Option<string[]> KindOption(string description, IEnumerable<string>? allowed = null)
    {
        var option = new Option<string[]>("--kind")
        {
            Description = description,
            HelpName = "kind",
            AllowMultipleArgumentsPerToken = false,
        };
        option.AcceptOnlyFromAmong([.. allowed ?? Kinds.Keys]);
        return option;
    }

    public static IEnumerable<EventKind> Parse(IEnumerable<string>? names) => (names ?? []).Select(n => Kinds[n]).Distinct();

    /// <summary>What happened, in one line.</summary>
    public static string Summary(Event e) => e.PayloadCase switch
    {
        Event.PayloadOneofCase.Hook => e.Hook.HookEventName + (string.IsNullOrEmpty(e.Hook.Fields?.ToolName) ? string.Empty : " " + e.Hook.Fields.ToolName),
        Event.PayloadOneofCase.Prompt => "prompt " + e.Prompt.PromptId + " " + Show.Enum(e.Prompt.Status)
            + (e.Kind == EventKind.PromptCreated ? " from " + Show.Principal(e.Prompt.Sender) + ": " + Show.Excerpt(e.Prompt.Text) : string.Empty),
        Event.PayloadOneofCase.Reply => "reply" + (string.IsNullOrEmpty(e.Reply.InReplyTo) ? string.Empty : " to " + e.Reply.InReplyTo) + ": " + Show.Excerpt(e.Reply.Text),
        Event.PayloadOneofCase.Approval => "approval " + e.Approval.ApprovalId + " " + e.Approval.ToolName + " " + Show.Enum(e.Approval.Status)
            + (string.IsNullOrEmpty(e.Approval.Description) ? string.Empty : ": " + Show.Excerpt(e.Approval.Description)),
        Event.PayloadOneofCase.Session => "session " + Show.Text(e.Session.Name) + " " + Show.Enum(e.Session.Status)
            + (e.Session.EndReason == SessionEndReason.Unspecified ? string.Empty : " (" + Show.Enum(e.Session.EndReason) + ")"),
        Event.PayloadOneofCase.Launch => "launch " + e.Launch.LaunchId + " " + Show.Enum(e.Launch.Status)
            + (string.IsNullOrEmpty(e.Launch.Error) ? string.Empty : ": " + e.Launch.Error),
        Event.PayloadOneofCase.Machine => "machine " + e.Machine.Name + (e.Machine.Online ? " online" : " offline"),
        _ => "-",
    };

    /// <summary>The machine's name where the payload carries it, else its id.</summary>
    public static string Machine(Event e) => e.PayloadCase switch
    {
        Event.PayloadOneofCase.Session when e.Session.MachineName.Length > 0 => e.Session.MachineName,
        Event.PayloadOneofCase.Approval when e.Approval.MachineName.Length > 0 => e.Approval.MachineName,
        Event.PayloadOneofCase.Launch when e.Launch.MachineName.Length > 0 => e.Launch.MachineName,
        Event.PayloadOneofCase.Machine => e.Machine.Name,
        _ => Show.Text(e.MachineId),
    };

    public static IReadOnlyList<string> Row(Printer printer, Event e) =>
    [
        Show.Time(e.OccurredAt), printer.Paint(Show.Enum(e.Kind), Tone.Dim), Show.Text(e.SessionId), Summary(e),
    ];

    public static readonly IReadOnlyList<string> Headers = ["AT", "KIND", "SESSION", "WHAT"];
}
