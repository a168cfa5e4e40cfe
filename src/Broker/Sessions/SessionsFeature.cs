namespace Relay.Broker.Sessions;

internal static class SessionsFeature
{
    /// <summary>Session reconciliation for the AgentLink stream (DESIGN.md §5).</summary>
    public static IServiceCollection AddSessions(this IServiceCollection services)
    {
        services.AddSingleton<SessionReconciler>();
        return services;
    }
}
