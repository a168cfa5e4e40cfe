using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>Every documented exit code, each produced for real against the broker (docs/relayctl.md).</summary>
[Collection(BrokerCollection.Name)]
public sealed class ExitCodeTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task Exit0_Success()
    {
        (await Cli.RunAsync("status")).ExitCode.Should().Be(ExitCodes.Success);
    }

    [Fact]
    public async Task Exit1_BrokerRefusesInTheCurrentState()
    {
        var name = Unique("taken");
        (await Cli.RunAsync("tokens", "create", name)).ExitCode.Should().Be(0);

        var result = await Cli.RunAsync("tokens", "create", name);

        result.ExitCode.Should().Be(ExitCodes.Error, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: ");
    }

    [Theory]
    [InlineData("sessions", "frobnicate")]
    [InlineData("watch", "--since", "yesterday")]
    public async Task Exit2_UsageError(params string[] args)
    {
        (await Cli.RunAsync(args)).ExitCode.Should().Be(ExitCodes.Usage);
    }

    [Fact]
    public async Task Exit2_BrokerSaysInvalidArgument()
    {
        var result = await Cli.RunAsync("machines", "enroll", new string('x', 300));

        result.ExitCode.Should().Be(ExitCodes.Usage, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: invalid request: ").And.Contain("--help");
    }

    [Theory]
    [InlineData("sessions", "history", "no-such-session")]
    [InlineData("briefings", "get", "no-such-briefing")]
    [InlineData("machines", "revoke", "no-such-machine")]
    public async Task Exit3_NotFound(params string[] args)
    {
        var result = await Cli.RunAsync(args);

        result.ExitCode.Should().Be(ExitCodes.NotFound, result.Stderr);
        result.Stderr.Should().StartWith("relayctl: not found: ");
    }

    [Fact]
    public async Task Exit4_Unauthenticated()
    {
        Cli.Environment["RELAY_TOKEN"] = "relay_pat_wrong";

        var result = await Cli.RunAsync("sessions", "list");

        result.ExitCode.Should().Be(ExitCodes.AccessDenied);
        result.Stderr.Should().Contain("relayctl login");
    }

    [Fact]
    public async Task Exit4_PermissionDenied()
    {
        Cli.Environment["RELAY_TOKEN"] = await TokenAsync("viewer");

        var result = await Cli.RunAsync("briefings", "set", "x", "text");

        result.ExitCode.Should().Be(ExitCodes.AccessDenied);
        result.Stderr.Should().StartWith("relayctl: permission denied");
    }

    [Fact]
    public async Task Exit5_Unavailable()
    {
        Cli.Environment["RELAY_BROKER"] = "127.0.0.1:1";

        var result = await Cli.RunAsync("watch");

        result.ExitCode.Should().Be(ExitCodes.Unavailable);
        result.Stderr.Should().StartWith("relayctl: broker unavailable");
    }

    [Fact]
    public async Task Exit6_Timeout()
    {
        var (_, _, sessionId) = await SessionAsync(Unique("timeout"));

        var result = await Cli.RunAsync("send", sessionId, "no answer", "--wait", "--timeout", "500ms");

        result.ExitCode.Should().Be(ExitCodes.Timeout, result.Stderr);
    }
}
