using Microsoft.Extensions.Options;

namespace Relay.Agent.Link;

internal sealed class BrokerLinkOptionsValidator : IValidateOptions<BrokerLinkOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerLinkOptions options)
    {
        var failures = new List<string>();
        Between(failures, nameof(options.InitialBackoff), options.InitialBackoff, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.MaxBackoff), options.MaxBackoff, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Between(failures, nameof(options.HealthyAfter), options.HealthyAfter, TimeSpan.Zero, TimeSpan.FromHours(1));
        Between(failures, nameof(options.AuthFailureBackoff), options.AuthFailureBackoff, TimeSpan.FromMilliseconds(10), TimeSpan.FromDays(1));
        Between(failures, nameof(options.NotEnrolledPollInterval), options.NotEnrolledPollInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Between(failures, nameof(options.HandshakeTimeout), options.HandshakeTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        if (options.MaxBackoff < options.InitialBackoff)
        {
            failures.Add($"Agent:Link:MaxBackoff ({options.MaxBackoff}) must not be shorter than Agent:Link:InitialBackoff ({options.InitialBackoff}).");
        }

        Range(failures, nameof(options.ReceiveWindow), options.ReceiveWindow, 1, 100_000);
        Range(failures, nameof(options.SendBatch), options.SendBatch, 1, 10_000);
        if (!string.IsNullOrWhiteSpace(options.StateDirectory) && !Path.IsPathFullyQualified(options.StateDirectory))
        {
            failures.Add($"Agent:Link:StateDirectory '{options.StateDirectory}' must be an absolute path (or empty for the agent's state directory).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Between(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"Agent:Link:{name} is {value}; give a duration between {min} and {max}.");
        }
    }

    private static void Range(List<string> failures, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            failures.Add($"Agent:Link:{name} is {value}; give a number between {min} and {max}.");
        }
    }
}
