namespace Relay.Broker.Queries.Selectors;

/// <summary>A machine named in a request, resolved.</summary>
internal sealed record MachineRef(Guid Id, string Name, DateTimeOffset? RevokedAt);
