using System.Text.RegularExpressions;
using Relay.Broker.Validation;

namespace Relay.Broker.Machines;

/// <summary>
/// Machine names: what people type after <c>--machine</c>, so host-name-like (letters, digits, dot, underscore,
/// hyphen; starting with a letter or digit) and never a UUID, which would be mistaken for a machine id.
/// </summary>
internal static partial class MachineNames
{
    public const int MaxLength = 63;

    /// <summary>The validated name, or null when <paramref name="value"/> is empty.</summary>
    public static string? Optional(string? value, string field)
    {
        var name = value?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        if (name.Length > MaxLength || !Pattern().IsMatch(name) || Guid.TryParse(name, out _))
        {
            throw RpcErrors.InvalidArgument(
                $"{field} '{Require.Shorten(name)}' is not a valid machine name: use 1-{MaxLength} letters, digits, '.', '_' or '-', " +
                "starting with a letter or digit (for example 'alice-laptop').");
        }

        return name;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
