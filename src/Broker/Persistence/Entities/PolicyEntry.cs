namespace Relay.Broker.Persistence.Entities;

/// <summary>One broker policy setting (who may message or launch where), as a JSON value under a key.</summary>
internal sealed class PolicyEntry
{
    public required string Key { get; set; }

    /// <summary>JSON (jsonb).</summary>
    public required string Value { get; set; }

    public required string UpdatedBy { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
