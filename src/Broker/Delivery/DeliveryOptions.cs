namespace Relay.Broker.Delivery;

/// <summary>How the broker delivers prompts, verdicts, launches and stops to agents. Section <c>Delivery</c>.</summary>
internal sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>How long a session-to-session message may wait for delivery when its sender set no expiry. Default 1 hour.</summary>
    public TimeSpan DefaultMessageExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a permission request waits for a verdict when the agent set no expiry. Default 1 hour.</summary>
    public TimeSpan DefaultApprovalExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The longest text of a session-to-session message, in characters. Default 100,000.</summary>
    public int MaxMessageChars { get; set; } = 100_000;

    /// <summary>Most outbox rows one fill moves onto a machine's stream; the rest follow in the next fill. Default 500.</summary>
    public int MaxFillRows { get; set; } = 500;
}
