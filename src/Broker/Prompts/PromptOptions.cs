using System.ComponentModel.DataAnnotations;

namespace Relay.Broker.Prompts;

/// <summary>Limits and timings of prompts sent through Admin. Section <c>Prompts</c>.</summary>
internal sealed class PromptOptions
{
    public const string SectionName = "Prompts";

    /// <summary>Longest prompt text, in characters (ServerLimits.max_prompt_chars). Default 100000.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Prompts:MaxPromptChars must be between 1 and 1000000 (messages are capped at 4 MiB).")]
    public int MaxPromptChars { get; set; } = 100_000;

    /// <summary>Expiry of a prompt sent without expires_in: how long it waits for an offline machine. Default 24 h.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00", ErrorMessage = "Prompts:DefaultTtl must be between 1 second and 30 days, e.g. 1.00:00:00.")]
    public TimeSpan DefaultTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Longest expires_in accepted. Default 7 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "365.00:00:00", ErrorMessage = "Prompts:MaxTtl must be between 1 second and 365 days, e.g. 7.00:00:00.")]
    public TimeSpan MaxTtl { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Wait of SendPrompt / GetPrompt when wait_timeout is unset. Default 60 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00", ErrorMessage = "Prompts:DefaultWaitTimeout must be between 1 ms and 1 hour, e.g. 00:01:00.")]
    public TimeSpan DefaultWaitTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest wait_timeout accepted. Default 10 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00", ErrorMessage = "Prompts:MaxWaitTimeout must be between 1 ms and 1 day, e.g. 00:10:00.")]
    public TimeSpan MaxWaitTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often undelivered prompts past their expiry are marked EXPIRED. Default 5 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "01:00:00", ErrorMessage = "Prompts:ExpirySweepInterval must be between 10 ms and 1 hour, e.g. 00:00:05.")]
    public TimeSpan ExpirySweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// SendPrompt calls of this replica that store their prompt at once. Storing takes the event-order lock (which the
    /// agents' batches take too) and holds a pooled database connection until it commits; the calls beyond this wait
    /// holding nothing. Default 4.
    /// </summary>
    [Range(1, 64, ErrorMessage = "Prompts:MaxConcurrentSends must be between 1 and 64, e.g. 4.")]
    public int MaxConcurrentSends { get; set; } = 4;

    /// <summary>
    /// How often a waiting call looks at its prompt without a signal (changes made by another broker replica arrive
    /// within this time). Default 1 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00", ErrorMessage = "Prompts:WaitPollInterval must be between 10 ms and 1 minute, e.g. 00:00:01.")]
    public TimeSpan WaitPollInterval { get; set; } = TimeSpan.FromSeconds(1);
}
