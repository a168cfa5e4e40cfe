using Microsoft.Extensions.Options;

namespace Relay.Broker.Access;

/// <summary>Checks <see cref="AccessOptions"/> at start; each message says which setting is wrong and what to set.</summary>
internal sealed class AccessOptionsValidator : IValidateOptions<AccessOptions>
{
    public ValidateOptionsResult Validate(string? name, AccessOptions options)
    {
        var failures = new List<string>();
        if (options.CacheDuration < TimeSpan.FromSeconds(1) || options.CacheDuration > TimeSpan.FromMinutes(5))
        {
            failures.Add($"Access:CacheDuration is {options.CacheDuration}; set it between 00:00:01 and 00:05:00 (revocations through other replicas wait this long).");
        }

        if (options.CacheCapacity is < 100 or > 1_000_000)
        {
            failures.Add($"Access:CacheCapacity is {options.CacheCapacity}; set it between 100 and 1000000.");
        }

        if (options.LastUsedInterval < TimeSpan.FromSeconds(1) || options.LastUsedInterval > TimeSpan.FromHours(24))
        {
            failures.Add($"Access:LastUsedInterval is {options.LastUsedInterval}; set it between 00:00:01 and 1.00:00:00.");
        }

        if (options.MaxEnrollmentTokenLifetime < TimeSpan.FromMinutes(1) || options.MaxEnrollmentTokenLifetime > TimeSpan.FromDays(365))
        {
            failures.Add($"Access:MaxEnrollmentTokenLifetime is {options.MaxEnrollmentTokenLifetime}; set it between 00:01:00 and 365.00:00:00.");
        }

        if (options.EnrollmentTokenLifetime < TimeSpan.FromMinutes(1) || options.EnrollmentTokenLifetime > options.MaxEnrollmentTokenLifetime)
        {
            failures.Add($"Access:EnrollmentTokenLifetime is {options.EnrollmentTokenLifetime}; set it between 00:01:00 and Access:MaxEnrollmentTokenLifetime ({options.MaxEnrollmentTokenLifetime}).");
        }

        if (options.MaxTokenLifetime < TimeSpan.FromMinutes(1) || options.MaxTokenLifetime > TimeSpan.FromDays(36500))
        {
            failures.Add($"Access:MaxTokenLifetime is {options.MaxTokenLifetime}; set it between 00:01:00 and 36500.00:00:00.");
        }

        if (options.EnrollAttemptsPerMinute is < 0 or > 100_000)
        {
            failures.Add($"Access:EnrollAttemptsPerMinute is {options.EnrollAttemptsPerMinute}; set it between 0 (unlimited) and 100000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
