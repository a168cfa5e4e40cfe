using Microsoft.Extensions.Options;

namespace Relay.Broker.Delivery;

internal sealed class DeliveryOptionsValidator : IValidateOptions<DeliveryOptions>
{
    public ValidateOptionsResult Validate(string? name, DeliveryOptions options)
    {
        var failures = new List<string>();
        if (options.DefaultMessageExpiry < TimeSpan.FromSeconds(1) || options.DefaultMessageExpiry > TimeSpan.FromDays(30))
        {
            failures.Add($"Delivery:DefaultMessageExpiry is {options.DefaultMessageExpiry}; give a duration between 00:00:01 and 30.00:00:00, e.g. 01:00:00.");
        }

        if (options.DefaultApprovalExpiry < TimeSpan.FromSeconds(1) || options.DefaultApprovalExpiry > TimeSpan.FromDays(30))
        {
            failures.Add($"Delivery:DefaultApprovalExpiry is {options.DefaultApprovalExpiry}; give a duration between 00:00:01 and 30.00:00:00, e.g. 01:00:00.");
        }

        if (options.MaxMessageChars is < 1 or > 4_000_000)
        {
            failures.Add($"Delivery:MaxMessageChars is {options.MaxMessageChars}; give a number between 1 and 4000000.");
        }

        if (options.MaxFillRows is < 1 or > 100_000)
        {
            failures.Add($"Delivery:MaxFillRows is {options.MaxFillRows}; give a number between 1 and 100000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
