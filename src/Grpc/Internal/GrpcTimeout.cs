using System.Globalization;

namespace Relay.Grpc.Internal;

/// <summary>The <c>grpc-timeout</c> header: at most 8 ASCII digits and a case-sensitive unit (H M S m u n).</summary>
internal static class GrpcTimeout
{
    private const long MaxValue = 99_999_999;

    /// <summary>Parses a header value; false for anything malformed or not positive (treated as no deadline).</summary>
    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > 9)
        {
            return false;
        }

        var digits = value.AsSpan(0, value.Length - 1);
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        var amount = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        if (amount <= 0)
        {
            return false;
        }

        // Ticks are 100 ns; nanoseconds round up so a 1n deadline is already expired, not infinite.
        var ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * 10,
            'n' => (amount + 99) / 100,
            _ => -1L,
        };
        if (ticks < 0)
        {
            return false;
        }

        timeout = TimeSpan.FromTicks(Math.Min(ticks, GrpcProtocol.MaxTimeout.Ticks));
        return true;
    }

    /// <summary>Encodes a remaining time, picking the unit that keeps the value within 8 digits.</summary>
    public static string Encode(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return "1n";
        }

        if (timeout < TimeSpan.FromMilliseconds(1))
        {
            return Format(CeilDiv(timeout.Ticks, 10), 'u');
        }

        var ms = CeilDiv(timeout.Ticks, TimeSpan.TicksPerMillisecond);
        if (ms % 1000 != 0 && ms <= MaxValue)
        {
            return Format(ms, 'm');
        }

        var seconds = CeilDiv(timeout.Ticks, TimeSpan.TicksPerSecond);
        if (seconds % 60 != 0 && seconds <= MaxValue)
        {
            return Format(seconds, 'S');
        }

        var minutes = CeilDiv(timeout.Ticks, TimeSpan.TicksPerMinute);
        if (minutes % 60 != 0 && minutes <= MaxValue)
        {
            return Format(minutes, 'M');
        }

        return Format(Math.Min(CeilDiv(timeout.Ticks, TimeSpan.TicksPerHour), MaxValue), 'H');
    }

    private static long CeilDiv(long value, long divisor) => (value + divisor - 1) / divisor;

    private static string Format(long value, char unit) => value.ToString(CultureInfo.InvariantCulture) + unit;
}
