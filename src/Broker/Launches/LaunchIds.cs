using Relay.Broker.Queries;

namespace Relay.Broker.Launches;

/// <summary>Ids a launch derives from its launch id, so a retried LaunchSession lands on the same rows.</summary>
internal static class LaunchIds
{
    /// <summary>The prompt created for the launch's initial prompt text.</summary>
    public static Guid InitialPrompt(Guid launchId) => ClientIds.NameBased("launch-initial-prompt/" + launchId.ToString("D"));

    /// <summary>The reserved session.</summary>
    public static Guid Session(Guid launchId) => ClientIds.NameBased("launch-session/" + launchId.ToString("D"));

    /// <summary>The event log entries announcing the request and the reserved session.</summary>
    public static Guid RequestedEntry(Guid launchId) => ClientIds.NameBased("launch-requested/" + launchId.ToString("D"));

    public static Guid SessionStartedEntry(Guid launchId) => ClientIds.NameBased("launch-session-started/" + launchId.ToString("D"));
}
