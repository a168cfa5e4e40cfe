using Microsoft.Extensions.Options;

namespace Relay.Broker.AgentLink;

internal sealed class AgentLinkOptionsValidator : IValidateOptions<AgentLinkOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentLinkOptions options)
    {
        var failures = new List<string>();
        Between(failures, nameof(options.HeartbeatInterval), options.HeartbeatInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.PeerTimeout), options.PeerTimeout, TimeSpan.FromMilliseconds(300), TimeSpan.FromMinutes(30));
        Between(failures, nameof(options.HelloTimeout), options.HelloTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Between(failures, nameof(options.LeaseDuration), options.LeaseDuration, TimeSpan.FromSeconds(1), TimeSpan.FromHours(1));
        Between(failures, nameof(options.ShutdownRetryAfter), options.ShutdownRetryAfter, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Between(failures, nameof(options.DrainTimeout), options.DrainTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Between(failures, nameof(options.AckLinger), options.AckLinger, TimeSpan.Zero, TimeSpan.FromSeconds(10));
        if (options.PeerTimeout <= options.HeartbeatInterval)
        {
            failures.Add($"AgentLink:PeerTimeout ({options.PeerTimeout}) must be longer than AgentLink:HeartbeatInterval ({options.HeartbeatInterval}); three intervals is usual.");
        }

        if (options.LeaseDuration <= options.PeerTimeout)
        {
            failures.Add($"AgentLink:LeaseDuration ({options.LeaseDuration}) must be longer than AgentLink:PeerTimeout ({options.PeerTimeout}), or live machines flicker offline.");
        }

        Range(failures, nameof(options.ReceiveWindow), options.ReceiveWindow, 1, 100_000);
        Range(failures, nameof(options.DefaultSendWindow), options.DefaultSendWindow, 1, 100_000);
        Range(failures, nameof(options.MaxMessageBytes), options.MaxMessageBytes, 1024, 4 * 1024 * 1024);
        Range(failures, nameof(options.OutboundQueueCapacity), options.OutboundQueueCapacity, 16, 1_000_000);
        Range(failures, nameof(options.MaxBatchMessages), options.MaxBatchMessages, 1, 10_000);
        Range(failures, nameof(options.MaxBatchBytes), options.MaxBatchBytes, 64 * 1024, 256 * 1024 * 1024);
        Range(failures, nameof(options.MaxConcurrentBatches), options.MaxConcurrentBatches, 1, 64);
        Range(failures, nameof(options.InboundBudgetMessages), options.InboundBudgetMessages, 1, 1_000_000);
        if (options.InboundBudgetBytes < 1024 * 1024 || options.InboundBudgetBytes > 64L * 1024 * 1024 * 1024)
        {
            failures.Add($"AgentLink:InboundBudgetBytes is {options.InboundBudgetBytes}; give a number of bytes between 1048576 (1 MiB) and 68719476736 (64 GiB).");
        }

        if (options.OutboundQueueCapacity <= options.DefaultSendWindow)
        {
            failures.Add($"AgentLink:OutboundQueueCapacity ({options.OutboundQueueCapacity}) must exceed AgentLink:DefaultSendWindow ({options.DefaultSendWindow}): a full window plus acks and heartbeats must fit.");
        }

        if (string.IsNullOrWhiteSpace(options.ReplicaName) || options.ReplicaName.Length > Persistence.Limits.Name)
        {
            failures.Add("AgentLink:ReplicaName must be 1 to 128 characters (default: the host name).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Between(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add($"AgentLink:{name} is {value}; give a duration between {min} and {max}.");
        }
    }

    private static void Range(List<string> failures, string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            failures.Add($"AgentLink:{name} is {value}; give a number between {min} and {max}.");
        }
    }
}
