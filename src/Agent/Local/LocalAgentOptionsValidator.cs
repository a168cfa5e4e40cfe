using Microsoft.Extensions.Options;

namespace Relay.Agent.Local;

/// <summary>Checks <see cref="LocalAgentOptions"/> at start; each failure says which value to change and to what.</summary>
internal sealed class LocalAgentOptionsValidator : IValidateOptions<LocalAgentOptions>
{
    public ValidateOptionsResult Validate(string? name, LocalAgentOptions options)
    {
        var failures = new List<string>();
        Between(failures, nameof(options.PromptAckTimeout), options.PromptAckTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.ChannelAttachWait), options.ChannelAttachWait, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.HookReservation), options.HookReservation, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.PermissionHoldTimeout), options.PermissionHoldTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(9));
        Between(failures, nameof(options.PermissionDedupeWindow), options.PermissionDedupeWindow, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Between(failures, nameof(options.ToolCallTimeout), options.ToolCallTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.SendMessageStatusWait), options.SendMessageStatusWait, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Between(failures, nameof(options.HelloTimeout), options.HelloTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Between(failures, nameof(options.TickInterval), options.TickInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5));
        Between(failures, nameof(options.PidlessSessionIdleTimeout), options.PidlessSessionIdleTimeout, TimeSpan.FromSeconds(10), TimeSpan.FromDays(7));
        Between(failures, nameof(options.StopGracePeriod), options.StopGracePeriod, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Range(failures, nameof(options.MaxTextChars), options.MaxTextChars, 1, 1_000_000);
        Range(failures, nameof(options.ChannelQueueCapacity), options.ChannelQueueCapacity, 16, 100_000);
        Range(failures, nameof(options.MaxConcurrentToolCalls), options.MaxConcurrentToolCalls, 1, 1_000);
        Range(failures, nameof(options.ReplyIdMemory), options.ReplyIdMemory, 100, 10_000_000);
        Range(failures, nameof(options.FinishedPromptMemory), options.FinishedPromptMemory, 100, 10_000_000);
        if (options.HookReservation <= options.PermissionDedupeWindow)
        {
            failures.Add($"{LocalAgentOptions.SectionName}:HookReservation ({options.HookReservation}) must be longer than PermissionDedupeWindow ({options.PermissionDedupeWindow}).");
        }

        if (string.IsNullOrWhiteSpace(options.ChannelServerName) || !options.ChannelServerName.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            failures.Add($"{LocalAgentOptions.SectionName}:ChannelServerName must be the MCP server name Relay's channel is registered under (letters, digits, '_' or '-'; default \"relay\").");
        }

        if (options.StateDirectory.Length > 0 && !Path.IsPathFullyQualified(options.StateDirectory))
        {
            failures.Add($"{LocalAgentOptions.SectionName}:StateDirectory '{options.StateDirectory}' must be an absolute path (or empty for the default).");
        }

        if (options.DefaultLaunchDirectory.Length > 0 && !Path.IsPathFullyQualified(options.DefaultLaunchDirectory))
        {
            failures.Add($"{LocalAgentOptions.SectionName}:DefaultLaunchDirectory '{options.DefaultLaunchDirectory}' must be an absolute path (or empty for the home directory).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Between(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{LocalAgentOptions.SectionName}:{name} is {value}; give a duration between {min} and {max}.");
        }
    }

    private static void Range(List<string> failures, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            failures.Add($"{LocalAgentOptions.SectionName}:{name} is {value}; give a number between {min} and {max}.");
        }
    }
}
