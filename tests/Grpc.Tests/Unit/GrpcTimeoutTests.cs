using Relay.Grpc.Internal;

namespace Relay.Grpc.Tests.Unit;

public sealed class GrpcTimeoutTests
{
    private static readonly TimeSpan s_max = TimeSpan.FromSeconds(99_999_999);

    public static TheoryData<string, TimeSpan> Units => new()
    {
        { "2H", TimeSpan.FromHours(2) },
        { "3M", TimeSpan.FromMinutes(3) },
        { "4S", TimeSpan.FromSeconds(4) },
        { "5m", TimeSpan.FromMilliseconds(5) },
        { "6u", TimeSpan.FromTicks(60) },
        { "700n", TimeSpan.FromTicks(7) },
        { "12345678m", TimeSpan.FromMilliseconds(12_345_678) },
    };

    [Theory]
    [MemberData(nameof(Units))]
    public void TryParse_EachUnit_Parses(string value, TimeSpan expected)
    {
        GrpcTimeout.TryParse(value, out var timeout).Should().BeTrue();
        timeout.Should().Be(expected);
    }

    [Fact]
    public void TryParse_UpperAndLowerM_MeanMinutesAndMilliseconds()
    {
        GrpcTimeout.TryParse("1M", out var minutes).Should().BeTrue();
        GrpcTimeout.TryParse("1m", out var milliseconds).Should().BeTrue();

        minutes.Should().Be(TimeSpan.FromMinutes(1));
        milliseconds.Should().Be(TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public void TryParse_OneNanosecond_RoundsUpToAnExpiredNotInfiniteDeadline()
    {
        GrpcTimeout.TryParse("1n", out var timeout).Should().BeTrue();

        timeout.Should().Be(TimeSpan.FromTicks(1));
    }

    [Theory]
    [InlineData("123456789S")]
    [InlineData("000000001S")]
    public void TryParse_MoreThanEightDigits_Rejected(string value)
    {
        GrpcTimeout.TryParse(value, out _).Should().BeFalse();
    }

    [Theory]
    [InlineData("0S")]
    [InlineData("00000000H")]
    [InlineData("-1S")]
    [InlineData("-5m")]
    public void TryParse_ZeroOrNegative_Ignored(string value)
    {
        GrpcTimeout.TryParse(value, out _).Should().BeFalse();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("10")]
    [InlineData("10s")]
    [InlineData("10x")]
    [InlineData("1.5S")]
    [InlineData(" 1S")]
    [InlineData("+1S")]
    [InlineData("1S,2S")]
    public void TryParse_Malformed_Rejected(string? value)
    {
        GrpcTimeout.TryParse(value, out _).Should().BeFalse();
    }

    [Theory]
    [InlineData("99999999H")]
    [InlineData("99999999M")]
    [InlineData("99999999S")]
    public void TryParse_BeyondTheWireMaximum_ClampedTo99999999Seconds(string value)
    {
        GrpcTimeout.TryParse(value, out var timeout).Should().BeTrue();

        timeout.Should().Be(s_max);
    }

    public static TheoryData<TimeSpan, string> Encodings => new()
    {
        { TimeSpan.FromTicks(1), "1u" },
        { TimeSpan.FromTicks(15), "2u" },
        { TimeSpan.FromMilliseconds(500), "500m" },
        { TimeSpan.FromMilliseconds(1980), "1980m" },
        { TimeSpan.FromSeconds(2), "2S" },
        { TimeSpan.FromSeconds(90), "90S" },
        { TimeSpan.FromMinutes(5), "5M" },
        { TimeSpan.FromHours(3), "3H" },
        { TimeSpan.FromHours(1) + TimeSpan.FromMilliseconds(1), "3600001m" },
        { TimeSpan.FromDays(2) + TimeSpan.FromMilliseconds(1), "172801S" },
    };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Encode_Timeout_PicksTheUnitThatFits(TimeSpan timeout, string expected)
    {
        GrpcTimeout.Encode(timeout).Should().Be(expected);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-10_000_000_000)]
    public void Encode_PastOrZero_IsOneNanosecond(long ticks)
    {
        GrpcTimeout.Encode(TimeSpan.FromTicks(ticks)).Should().Be("1n");
    }

    [Fact]
    public void Encode_ManyTimeouts_AlwaysEightDigitsAtMostAndNeverShorter()
    {
        var timeout = TimeSpan.FromTicks(7);
        // Up to the wire maximum (~1157 days); beyond it parsing clamps, tested separately.
        while (timeout < TimeSpan.FromDays(1100))
        {
            var encoded = GrpcTimeout.Encode(timeout);

            encoded.Length.Should().BeLessThanOrEqualTo(9, because: $"{timeout} encoded as {encoded}");
            GrpcTimeout.TryParse(encoded, out var parsed).Should().BeTrue(because: encoded);
            // Rounding goes up, never down: the server must not give up before the client does.
            parsed.Should().BeGreaterThanOrEqualTo(timeout, because: encoded);
            timeout = TimeSpan.FromTicks((timeout.Ticks * 7 / 3) + 13);
        }
    }

    [Fact]
    public void Encode_BeyondTheWireMaximum_ParsesAsTheMaximum()
    {
        var encoded = GrpcTimeout.Encode(TimeSpan.FromDays(365 * 200));

        encoded.Length.Should().BeLessThanOrEqualTo(9);
        GrpcTimeout.TryParse(encoded, out var parsed).Should().BeTrue();
        parsed.Should().Be(s_max);
    }
}
