namespace Relay.Bench.Scenarios;

/// <summary>What the broker's restart under load cost.</summary>
internal sealed record RecoveryFigures(int Agents, double OfferedRate, double DowntimeSeconds, long PostedWhileDown, double ReconnectSeconds, double DrainSeconds, long Posted, double SlowestHookMs, StoredCheck Stored);
