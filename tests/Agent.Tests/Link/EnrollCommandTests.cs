using Relay.Agent.Config;
using Relay.Agent.Link;
using Relay.Agent.Tests.Infrastructure;
using Relay.Broker.Tests.Infrastructure;
using Relay.Tests.Shared;

namespace Relay.Agent.Tests.Link;

/// <summary><c>relay-agent enroll</c> against a real broker.</summary>
[Collection(LinkBrokerCollection.Name)]
public sealed class EnrollCommandTests(LinkBrokerProcess broker) : IDisposable
{
    private readonly TempDirectory _config = new("relay-agent-enroll-");

    private AgentConfigStore Store => new(_config.Path);

    [Fact]
    public async Task Enroll_ValidToken_WritesConfig0600KeepsHookSettingsAndNeverPrintsTheCredential()
    {
        using var timeout = TestTimeout.Start();
        Store.Save(new AgentConfig { HookSecret = "relay_hook_keep-me", HookPort = 7555 });
        var token = await broker.CreateEnrollmentTokenAsync("enroll-ok-" + Guid.NewGuid().ToString("N")[..8], timeout.Token);

        var (exit, stdout, stderr) = await EnrollAsync(new EnrollArguments(broker.Address, token, null, null), timeout.Token);

        exit.Should().Be(0, stderr);
        var config = Store.Load();
        config.IsEnrolled.Should().BeTrue();
        config.BrokerAddress.Should().Be(broker.Address);
        config.MachineName.Should().StartWith("enroll-ok-");
        config.HookSecret.Should().Be("relay_hook_keep-me");
        config.HookPort.Should().Be(7555);
        File.GetUnixFileMode(Store.FilePath).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        stdout.Should().Contain(config.MachineName!).And.Contain(config.MachineId!).And.Contain(Store.FilePath);
        stdout.Should().NotContain(config.Credential!);
        stderr.Should().BeEmpty();
    }

    [Fact]
    public async Task Enroll_SpentToken_Exits4WithHowToGetANewOne()
    {
        using var timeout = TestTimeout.Start();
        var token = await broker.CreateEnrollmentTokenAsync("enroll-spent-" + Guid.NewGuid().ToString("N")[..8], timeout.Token);
        (await EnrollAsync(new EnrollArguments(broker.Address, token, null, null), timeout.Token)).ExitCode.Should().Be(0);
        var before = File.ReadAllText(Store.FilePath);

        var (exit, stdout, stderr) = await EnrollAsync(new EnrollArguments(broker.Address, token, null, null), timeout.Token);

        exit.Should().Be(4);
        stdout.Should().BeEmpty();
        stderr.Should().StartWith("relay-agent enroll: the enrolment token was refused (spent, expired or unknown): create a new one with 'relayctl machines enroll <name>'");
        File.ReadAllText(Store.FilePath).Should().Be(before, "a refused enrolment leaves the configuration alone");
    }

    [Fact]
    public async Task Enroll_UnknownToken_Exits4()
    {
        using var timeout = TestTimeout.Start();

        var (exit, _, stderr) = await EnrollAsync(new EnrollArguments(broker.Address, "relay_enr_not-a-real-token", null, null), timeout.Token);

        exit.Should().Be(4);
        stderr.Should().Contain("refused");
        File.Exists(Store.FilePath).Should().BeFalse();
    }

    [Fact]
    public async Task Enroll_UnreachableBroker_Exits5()
    {
        using var timeout = TestTimeout.Start();

        var (exit, stdout, stderr) = await EnrollAsync(new EnrollArguments("127.0.0.1:1", "relay_enr_whatever", null, null), timeout.Token);

        exit.Should().Be(5);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("cannot be reached").And.Contain("127.0.0.1:1");
        File.Exists(Store.FilePath).Should().BeFalse();
    }

    [Fact]
    public async Task Enroll_MissingCaFile_Exits2WithTheProblem()
    {
        using var timeout = TestTimeout.Start();

        var (exit, _, stderr) = await EnrollAsync(new EnrollArguments(broker.Address, "relay_enr_whatever", null, "/nonexistent/ca.pem"), timeout.Token);

        exit.Should().Be(2);
        stderr.Should().Contain("/nonexistent/ca.pem").And.Contain("PEM");
    }

    [Fact]
    public async Task Main_EnrollWithoutToken_IsAUsageErrorExit2()
    {
        var (exit, stdout, stderr) = await ProgramRunner.RunAsync("relay-agent", "enroll", "--broker", broker.Address);

        exit.Should().Be(2);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("--token");
    }

    public void Dispose() => _config.Dispose();

    private async Task<(int ExitCode, string Stdout, string Stderr)> EnrollAsync(EnrollArguments arguments, CancellationToken cancellationToken)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await EnrollCommand.RunAsync(arguments, Store, output, error, cancellationToken);
        return (exit, output.ToString(), error.ToString());
    }
}
