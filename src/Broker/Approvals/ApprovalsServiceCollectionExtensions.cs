namespace Relay.Broker.Approvals;

internal static class ApprovalsServiceCollectionExtensions
{
    /// <summary>ListApprovals, GetApproval, DecideApproval.</summary>
    public static IServiceCollection AddApprovals(this IServiceCollection services)
    {
        services.AddSingleton<ApprovalReader>();
        services.AddSingleton<ApprovalQueries>();
        services.AddSingleton<ApprovalDecider>();
        return services;
    }
}
