namespace Relay.Broker.Tests.Infrastructure;

/// <summary>The one bound on how long a test may wait for anything.</summary>
internal static class TestTimeout
{
    public static readonly TimeSpan Default = TimeSpan.FromMinutes(2);

    /// <summary>A token that cancels after <see cref="Default"/>; dispose the source at the end of the test.</summary>
    public static CancellationTokenSource Start() => new(Default);
}
