using Relay.Agent.Launch;

namespace Relay.Agent.Tests.Local.Fakes;

/// <summary>A launcher that starts nothing: it answers with the outcome the test chose and records the specs.</summary>
internal sealed class FakeLauncher : ISessionLauncher
{
    private readonly Lock _lock = new();
    private readonly List<LaunchSpec> _launches = [];

    public Func<LaunchSpec, LaunchOutcome> Outcome { get; set; } = spec => new LaunchOutcome(true, null, 4242, "relay-" + spec.LaunchId + ":0", DateTimeOffset.UtcNow);

    public IReadOnlyList<LaunchSpec> Launches
    {
        get
        {
            lock (_lock)
            {
                return _launches.ToList();
            }
        }
    }

    public Task<LaunchOutcome> LaunchAsync(LaunchSpec spec, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _launches.Add(spec);
        }

        return Task.FromResult(Outcome(spec));
    }

    public Task<StopOutcome> StopAsync(StopSpec spec, CancellationToken cancellationToken) =>
        Task.FromResult(new StopOutcome(true, null, DateTimeOffset.UtcNow));
}
