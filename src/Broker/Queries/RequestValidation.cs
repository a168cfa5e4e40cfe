using Google.Protobuf.WellKnownTypes;

namespace Relay.Broker.Queries;

/// <summary>Checks shared by every Admin request: client-generated ids, text sizes, durations and page sizes.</summary>
internal static class RequestValidation
{
    /// <summary>The longest client-generated id (common.proto).</summary>
    public const int MaxClientIdLength = 128;

    /// <summary>A client-generated id: 1–128 characters of [A-Za-z0-9._:-] (common.proto); empty allowed when optional.</summary>
    public static void ClientId(string value, string field)
    {
        if (value.Length > MaxClientIdLength)
        {
            throw AdminErrors.InvalidArgument(field, $"at most {MaxClientIdLength} characters (got {value.Length}).");
        }

        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
            {
                throw AdminErrors.InvalidArgument(field, "use only the characters A-Z a-z 0-9 . _ : - (a UUID is recommended).");
            }
        }
    }

    /// <summary>Non-empty (when <paramref name="required"/>) text of at most <paramref name="maxChars"/> characters.</summary>
    public static void Text(string value, string field, int maxChars, bool required)
    {
        if (required && string.IsNullOrWhiteSpace(value))
        {
            throw AdminErrors.InvalidArgument(field, "must not be empty.");
        }

        if (value.Length > maxChars)
        {
            throw AdminErrors.InvalidArgument(field, $"at most {maxChars} characters (got {value.Length}).");
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw AdminErrors.InvalidArgument(field, "must not contain NUL characters.");
        }
    }

    /// <summary>A name: at most 128 characters, no control characters.</summary>
    public static void Name(string value, string field)
    {
        Text(value, field, Persistence.Limits.Name, required: false);
        if (value.Any(char.IsControl))
        {
            throw AdminErrors.InvalidArgument(field, "must not contain control characters.");
        }
    }

    /// <summary>An optional duration in (0, <paramref name="max"/>]; null when unset.</summary>
    public static TimeSpan? Duration(Duration? value, string field, TimeSpan max, bool allowZero = false)
    {
        if (value is null)
        {
            return null;
        }

        if (value.Nanos is < -999_999_999 or > 999_999_999 || (value.Seconds > 0 && value.Nanos < 0) || (value.Seconds < 0 && value.Nanos > 0))
        {
            throw AdminErrors.InvalidArgument(field, "is not a valid duration.");
        }

        var span = value.Seconds > (long)max.TotalSeconds + 1 ? TimeSpan.MaxValue : value.ToTimeSpan();
        if (span < TimeSpan.Zero || (!allowZero && span == TimeSpan.Zero))
        {
            throw AdminErrors.InvalidArgument(field, allowZero ? "must not be negative." : "must be positive.");
        }

        if (span > max)
        {
            throw AdminErrors.InvalidArgument(field, $"at most {Describe(max)} (got {(span == TimeSpan.MaxValue ? $"{value.Seconds} s" : Describe(span))}).");
        }

        return span;
    }

    /// <summary>The page size to use: <paramref name="defaultSize"/> for 0, capped at <paramref name="max"/>; negative is refused.</summary>
    public static int PageSize(int requested, int defaultSize, int max, string field = "page_size")
    {
        if (requested < 0)
        {
            throw AdminErrors.InvalidArgument(field, $"must be between 0 (server default {defaultSize}) and {max}.");
        }

        return requested == 0 ? defaultSize : Math.Min(requested, max);
    }

    public static string Describe(TimeSpan span) =>
        span.TotalDays >= 1 && span.TotalDays == Math.Floor(span.TotalDays) ? $"{span.TotalDays:0} d"
        : span.TotalHours >= 1 && span.TotalHours == Math.Floor(span.TotalHours) ? $"{span.TotalHours:0} h"
        : span.TotalMinutes >= 1 && span.TotalMinutes == Math.Floor(span.TotalMinutes) ? $"{span.TotalMinutes:0} min"
        : $"{span.TotalSeconds:0.###} s";
}
