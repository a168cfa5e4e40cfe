using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Prompts;

/// <summary>The order of the prompt lifecycle for waiting (common.proto): QUEUED &lt; SENT &lt; DELIVERED &lt; SEEN &lt; REPLIED; EXPIRED and FAILED end every wait.</summary>
internal static class PromptStatuses
{
    public static bool IsFinal(Pb.PromptStatus status) => status is Pb.PromptStatus.Expired or Pb.PromptStatus.Failed or Pb.PromptStatus.Replied;

    /// <summary>True when a wait for <paramref name="wanted"/> is over at <paramref name="current"/>.</summary>
    public static bool Reached(Pb.PromptStatus current, Pb.PromptStatus wanted) =>
        wanted == Pb.PromptStatus.Unspecified
        || current is Pb.PromptStatus.Expired or Pb.PromptStatus.Failed
        || Rank(current) >= Rank(wanted);

    /// <summary>INVALID_ARGUMENT unless <paramref name="wanted"/> is something to wait for.</summary>
    public static Pb.PromptStatus ValidateWait(Pb.PromptStatus wanted, string field) => wanted switch
    {
        Pb.PromptStatus.Unspecified or Pb.PromptStatus.Queued or Pb.PromptStatus.Sent or Pb.PromptStatus.Delivered
            or Pb.PromptStatus.Seen or Pb.PromptStatus.Replied => wanted,
        _ => throw Queries.AdminErrors.InvalidArgument(field, $"{wanted} is not a status to wait for; use DELIVERED or REPLIED (EXPIRED and FAILED end every wait)."),
    };

    private static int Rank(Pb.PromptStatus status) => status switch
    {
        Pb.PromptStatus.Queued => 1,
        Pb.PromptStatus.Sent => 2,
        Pb.PromptStatus.Delivered => 3,
        Pb.PromptStatus.Seen => 4,
        Pb.PromptStatus.Replied => 5,
        _ => 0,
    };
}
