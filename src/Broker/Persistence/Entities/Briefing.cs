namespace Relay.Broker.Persistence.Entities;

/// <summary>Standing context for every session with a given name, handed to Claude at SessionStart.</summary>
internal sealed class Briefing
{
    public required string SessionName { get; set; }

    public required string Text { get; set; }

    public required string UpdatedBy { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
