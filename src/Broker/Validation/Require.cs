using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;

namespace Relay.Broker.Validation;

/// <summary>
/// Request field checks shared by the Admin and AgentLink handlers. Each throws <see cref="RpcException"/> with
/// INVALID_ARGUMENT naming the field, what is wrong and what is allowed.
/// </summary>
internal static partial class Require
{
    /// <summary>Client-generated ids (common.proto): at most 128 characters of [A-Za-z0-9._:-].</summary>
    public const int MaxClientIdLength = 128;

    /// <summary>A required single-line name (token, machine, session, briefing): trimmed, 1..<paramref name="maxLength"/>.</summary>
    public static string Name(string? value, string field, int maxLength = Persistence.Limits.Name)
    {
        var trimmed = value?.Trim() ?? string.Empty;
        if (trimmed.Length == 0)
        {
            throw RpcErrors.InvalidArgument($"{field} is required.");
        }

        return OptionalName(trimmed, field, maxLength)!;
    }

    /// <summary>An optional single-line name; null when empty.</summary>
    public static string? OptionalName(string? value, string field, int maxLength = Persistence.Limits.Name)
    {
        var trimmed = value?.Trim() ?? string.Empty;
        if (trimmed.Length == 0)
        {
            return null;
        }

        if (trimmed.Length > maxLength)
        {
            throw RpcErrors.InvalidArgument($"{field} is {trimmed.Length} characters long; the limit is {maxLength}.");
        }

        if (trimmed.Any(char.IsControl))
        {
            throw RpcErrors.InvalidArgument($"{field} must not contain control characters (newlines, tabs, escapes).");
        }

        return trimmed;
    }

    /// <summary>Free text (a note, a reason): at most <paramref name="maxLength"/> characters; null when empty.</summary>
    public static string? OptionalText(string? value, string field, int maxLength)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (value.Length > maxLength)
        {
            throw RpcErrors.InvalidArgument($"{field} is {value.Length} characters long; the limit is {maxLength}.");
        }

        return value;
    }

    /// <summary>A broker-generated UUID id (token, machine, session...).</summary>
    public static Guid Id(string? value, string field, string example)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw RpcErrors.InvalidArgument($"{field} is required ({example}).");
        }

        if (!Guid.TryParse(value.Trim(), out var id))
        {
            throw RpcErrors.InvalidArgument(
                $"{field} '{Shorten(value)}' is not a valid id; expected a UUID ({example}).");
        }

        return id;
    }

    /// <summary>An optional client-generated idempotency id; null when empty.</summary>
    public static string? OptionalClientId(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (value.Length > MaxClientIdLength || !ClientIdPattern().IsMatch(value))
        {
            throw RpcErrors.InvalidArgument(
                $"{field} must be at most {MaxClientIdLength} characters of A-Z a-z 0-9 . _ : - (a UUID is recommended).");
        }

        return value;
    }

    /// <summary>A positive duration no longer than <paramref name="max"/>; null when unset.</summary>
    public static TimeSpan? OptionalDuration(Duration? value, string field, TimeSpan max)
    {
        if (value is null)
        {
            return null;
        }

        TimeSpan span;
        try
        {
            span = value.ToTimeSpan();
        }
        catch (InvalidOperationException)
        {
            throw RpcErrors.InvalidArgument($"{field} is not a valid duration (seconds and nanos must have the same sign).");
        }

        if (span <= TimeSpan.Zero)
        {
            throw RpcErrors.InvalidArgument($"{field} must be positive, e.g. 86400s for one day.");
        }

        if (span > max)
        {
            throw RpcErrors.InvalidArgument($"{field} is too long; the limit is {max.TotalDays:0.##} days.");
        }

        return span;
    }

    /// <summary>An optional timestamp as a <see cref="DateTimeOffset"/>; null when unset.</summary>
    public static DateTimeOffset? OptionalTimestamp(Timestamp? value, string field)
    {
        if (value is null)
        {
            return null;
        }

        try
        {
            return value.ToDateTimeOffset();
        }
        catch (InvalidOperationException)
        {
            throw RpcErrors.InvalidArgument($"{field} is not a valid timestamp (years 0001-9999, nanos 0-999999999).");
        }
    }

    /// <summary>A defined value of a protobuf enum (protobuf accepts any number on the wire).</summary>
    public static TEnum DefinedEnum<TEnum>(TEnum value, string field)
        where TEnum : struct, System.Enum
    {
        if (!System.Enum.IsDefined(value))
        {
            throw RpcErrors.InvalidArgument($"{field} has an unknown value {Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)}.");
        }

        return value;
    }

    /// <summary>A value for messages: user input shortened so that an error never echoes a huge field.</summary>
    public static string Shorten(string value, int max = 64) => value.Length <= max ? value : string.Concat(value.AsSpan(0, max), "…");

    [GeneratedRegex("^[A-Za-z0-9._:-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex ClientIdPattern();
}
