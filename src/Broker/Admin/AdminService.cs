namespace Relay.Broker.Admin;

/// <summary>
/// The Admin service. One partial file per area (AdminService.Machines.cs, AdminService.Sessions.cs, …);
/// each override checks the caller's role and delegates to the feature that owns the data, resolved from
/// <paramref name="services"/> so that features register themselves independently.
/// </summary>
internal sealed partial class AdminService(IServiceProvider services) : Protocol.V1.Admin.AdminBase
{
    private T Get<T>()
        where T : notnull => services.GetRequiredService<T>();
}
