using System.ComponentModel.DataAnnotations;

namespace Relay.Broker.Launches;

/// <summary>Limits and timings of LaunchSession and StopSession. Section <c>Launches</c>.</summary>
internal sealed class LaunchOptions
{
    public const string SectionName = "Launches";

    /// <summary>How long a launch may wait for its machine when expires_in is unset. Default 1 hour.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00", ErrorMessage = "Launches:DefaultExpiry must be between 1 second and 30 days, e.g. 01:00:00.")]
    public TimeSpan DefaultExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Longest expires_in accepted. Default 7 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00", ErrorMessage = "Launches:MaxExpiry must be between 1 second and 365 days, e.g. 7.00:00:00.")]
    public TimeSpan MaxExpiry { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Wait of LaunchSession (wait_for_start) when wait_timeout is unset. Default 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00", ErrorMessage = "Launches:DefaultWaitTimeout must be between 1 ms and 1 hour, e.g. 00:01:00.")]
    public TimeSpan DefaultWaitTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Wait of StopSession (wait) when wait_timeout is unset. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00", ErrorMessage = "Launches:DefaultStopWaitTimeout must be between 1 ms and 1 hour, e.g. 00:00:30.")]
    public TimeSpan DefaultStopWaitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait_timeout accepted. Default 10 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00", ErrorMessage = "Launches:MaxWaitTimeout must be between 1 ms and 1 day, e.g. 00:10:00.")]
    public TimeSpan MaxWaitTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Longest grace_period of a graceful stop. Default 10 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Launches:MaxGracePeriod must be between 1 second and 1 day, e.g. 00:10:00.")]
    public TimeSpan MaxGracePeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often a waiting call looks again without a signal. Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00", ErrorMessage = "Launches:WaitPollInterval must be between 10 ms and 1 minute, e.g. 00:00:01.")]
    public TimeSpan WaitPollInterval { get; set; } = TimeSpan.FromSeconds(1);
}
