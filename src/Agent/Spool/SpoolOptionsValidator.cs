using Microsoft.Extensions.Options;

namespace Relay.Agent.Spool;

internal sealed class SpoolOptionsValidator : IValidateOptions<SpoolOptions>
{
    private const long MinBytes = 16 * 1024;

    public ValidateOptionsResult Validate(string? name, SpoolOptions options)
    {
        var failures = new List<string>();
        if (options.MaxBytes < MinBytes)
        {
            failures.Add($"Agent:Spool:MaxBytes is {options.MaxBytes}; give at least {MinBytes} bytes (268435456 = 256 MiB is the default).");
        }

        if (options.SegmentBytes < 4096 || options.SegmentBytes > options.MaxBytes)
        {
            failures.Add($"Agent:Spool:SegmentBytes is {options.SegmentBytes}; give a size between 4096 and Agent:Spool:MaxBytes ({options.MaxBytes}).");
        }

        if (options.MaxItemBytes < 1024 || options.MaxItemBytes > options.MaxBytes)
        {
            failures.Add($"Agent:Spool:MaxItemBytes is {options.MaxItemBytes}; give a size between 1024 and Agent:Spool:MaxBytes ({options.MaxBytes}).");
        }

        if (options.QueueCapacity is < 1 or > 1_000_000)
        {
            failures.Add($"Agent:Spool:QueueCapacity is {options.QueueCapacity}; give a number between 1 and 1000000.");
        }

        if (!string.IsNullOrWhiteSpace(options.Directory) && !Path.IsPathFullyQualified(options.Directory))
        {
            failures.Add($"Agent:Spool:Directory '{options.Directory}' must be an absolute path (or empty for the agent's state directory).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
