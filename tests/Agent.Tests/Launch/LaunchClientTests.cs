using System.Text.Json.Nodes;
using Relay.Agent.Launch;
using Relay.Broker.Tests.Infrastructure;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Launch;

/// <summary><c>relay-agent launch</c> against a daemon on a real Unix socket.</summary>
public sealed class LaunchClientTests : IDisposable
{
    private readonly TempDirectory _directory = new("relay-launch-client-");

    public LaunchClientTests() => Directory.CreateDirectory(_directory.Path);

    private string SocketPath => Path.Combine(_directory.Path, "agent.sock");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task RunAsync_DaemonNotRunning_SaysSoAndExits5()
    {
        var (exitCode, stdout, stderr) = await RunAsync(Request());

        exitCode.Should().Be(5);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("not running").And.Contain("systemctl --user start relay-agent");
    }

    [Fact]
    public async Task RunAsync_SocketFileWithoutDaemon_Exits5()
    {
        File.WriteAllText(SocketPath, string.Empty);

        var (exitCode, _, stderr) = await RunAsync(Request());

        exitCode.Should().Be(5);
        stderr.Should().Contain("nothing answers");
    }

    [Fact]
    public async Task RunAsync_Started_SendsTheRequestAndPrintsHowToAttach()
    {
        await using var daemon = await FakeAgentDaemon.StartAsync(SocketPath);
        daemon.OnLaunch = r => Started(r, "review:0", 4242);

        var (exitCode, stdout, stderr) = await RunAsync(Request() with { Name = "review", Prompt = "look at the diff", ClaudeArguments = ["--model", "opus"] });

        exitCode.Should().Be(0, stderr);
        var sent = daemon.LaunchRequests.Should().ContainSingle().Subject;
        Guid.TryParse(sent.LaunchId, out _).Should().BeTrue();
        sent.Cwd.Should().Be(_directory.Path);
        sent.Name.Should().Be("review");
        sent.Prompt.Should().Be("look at the diff");
        sent.ClaudeArgs.Should().Equal("--model", "opus");
        stdout.Should().Contain("tmux session 'review'").And.Contain("pid 4242").And.Contain("tmux -L relay attach -t review")
            .And.Contain("delivered through the channel");
    }

    [Fact]
    public async Task RunAsync_Json_PrintsOneDocument()
    {
        await using var daemon = await FakeAgentDaemon.StartAsync(SocketPath);
        daemon.OnLaunch = r => Started(r, "claude-1a2b3c4d:0", 77);

        var (exitCode, stdout, _) = await RunAsync(Request() with { Json = true });

        exitCode.Should().Be(0);
        var json = JsonNode.Parse(stdout)!.AsObject();
        json["started"]!.GetValue<bool>().Should().BeTrue();
        json["tmux_target"]!.GetValue<string>().Should().Be("claude-1a2b3c4d:0");
        json["attach"]!.GetValue<string>().Should().Be("tmux -L relay attach -t claude-1a2b3c4d");
        json["claude_pid"]!.GetValue<int>().Should().Be(77);
        json["claude_session_id"]!.GetValue<string>().Should().NotBeEmpty();
    }

    [Fact]
    public async Task RunAsync_LaunchFailed_PrintsTheReasonAndExits1()
    {
        await using var daemon = await FakeAgentDaemon.StartAsync(SocketPath);
        daemon.OnLaunch = r => new LaunchResult { LaunchId = r.LaunchId, Started = false, Error = "tmux is not installed" };

        var (exitCode, stdout, stderr) = await RunAsync(Request());

        exitCode.Should().Be(1);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("launch failed: tmux is not installed");
    }

    private LaunchRequestOptions Request() => new(_directory.Path, null, null, [], Json: false, TimeSpan.FromSeconds(30));

    private static LaunchResult Started(LocalLaunchRequest request, string target, int pid) => new()
    {
        LaunchId = request.LaunchId,
        Started = true,
        Name = request.Name,
        TmuxTarget = target,
        Session = new SessionEvidence { ClaudeSessionId = Guid.NewGuid().ToString(), LaunchId = request.LaunchId, ClaudePid = pid, Cwd = request.Cwd },
    };

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(LaunchRequestOptions request)
    {
        using var timeout = TestTimeout.Start();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = await LaunchClient.RunAsync(request, SocketPath, "relay", stdout, stderr, timeout.Token);
        return (exitCode, stdout.ToString(), stderr.ToString());
    }
}
