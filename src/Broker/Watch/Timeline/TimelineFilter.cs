namespace Relay.Broker.Watch.Timeline;

/// <summary>Which rows of the event log a reader wants.</summary>
/// <param name="StoredKinds">Stored kinds to return (never empty: internal kinds are always left out).</param>
/// <param name="SessionId">Only this session's rows.</param>
/// <param name="MachineIds">Only these machines' rows; null or empty = all.</param>
internal sealed record TimelineFilter(string[] StoredKinds, Guid? SessionId = null, Guid[]? MachineIds = null);
