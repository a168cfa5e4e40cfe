namespace Relay.Channel.Hosting;

/// <summary>Checks <see cref="RelayChannelOptions"/> at start; each message says which setting is wrong and what to set.</summary>
internal sealed class RelayChannelOptionsValidator : IValidateOptions<RelayChannelOptions>
{
    public ValidateOptionsResult Validate(string? name, RelayChannelOptions options)
    {
        var failures = new List<string>();
        Between(failures, "ReplyTimeout", options.ReplyTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Between(failures, "AgentWaitTimeout", options.AgentWaitTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Between(failures, "ToolTimeout", options.ToolTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Between(failures, "ReconnectMinDelay", options.ReconnectMinDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        Between(failures, "ReconnectMaxDelay", options.ReconnectMaxDelay, options.ReconnectMinDelay, TimeSpan.FromMinutes(5));
        Between(failures, "AttachTimeout", options.AttachTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Between(failures, "ParentPollInterval", options.ParentPollInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1));
        if (options.OutboundCapacity is < 8 or > 100_000)
        {
            failures.Add($"Channel:OutboundCapacity is {options.OutboundCapacity}; set it between 8 and 100000.");
        }

        if (options.MaxPendingReplies is < 1 or > 1_000_000)
        {
            failures.Add($"Channel:MaxPendingReplies is {options.MaxPendingReplies}; set it between 1 and 1000000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Between(List<string> failures, string setting, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"Channel:{setting} is {value}; set it between {min} and {max} (for example Channel__{setting}={max / 2:c} in the server's environment).");
        }
    }
}
