namespace Relay.Broker.Access;

/// <summary>Authentication and enrolment settings. Bound from the <c>Access</c> configuration section (<c>RELAY_ACCESS__*</c>).</summary>
internal sealed class AccessOptions
{
    public const string SectionName = "Access";

    /// <summary>
    /// How long a credential lookup (and the messaging policy) is cached. Revocations through this replica apply at
    /// once; through another replica, within this time. Default 5 s.
    /// </summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most credential lookups cached at once. Default 10,000.</summary>
    public int CacheCapacity { get; set; } = 10_000;

    /// <summary>A token's last_used_at is written at most this often, so busy tokens cost no write per call. Default 1 min.</summary>
    public TimeSpan LastUsedInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Lifetime of an enrolment token created without expires_in. Default 24 h.</summary>
    public TimeSpan EnrollmentTokenLifetime { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Longest lifetime an enrolment token may be given; longer requests are capped. Default 7 days.</summary>
    public TimeSpan MaxEnrollmentTokenLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Longest lifetime a personal token may be given. Default 10 years.</summary>
    public TimeSpan MaxTokenLifetime { get; set; } = TimeSpan.FromDays(3650);

    /// <summary>AgentLink.Enroll attempts per minute from one network address; 0 = unlimited. Default 30.</summary>
    public int EnrollAttemptsPerMinute { get; set; } = 30;
}
