using System.Diagnostics;
using System.Net.Sockets;
using Relay.Agent.Hosting;
using Relay.Agent.Tests.Hooks.Fakes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hosting;

/// <summary>The daemon's Unix socket: private directory and socket, one daemon per socket, the peer-uid check.</summary>
public sealed class LocalSocketTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task Start_CreatesThePrivateDirectoryAndA0600Socket_AndStopRemovesTheSocket()
    {
        using var timeout = TestTimeout.Start();
        var agent = await TestAgent.StartAsync(timeout.Token);
        var paths = agent.Paths;
        try
        {
            File.GetUnixFileMode(paths.SocketDirectory).Should().Be(Private);
            File.GetUnixFileMode(paths.Socket).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        finally
        {
            await agent.DisposeAsync();
        }

        File.Exists(paths.Socket).Should().BeFalse();
    }

    [Fact]
    public void Build_DirectoryOpenToOthers_RefusesWithChmodAdvice()
    {
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory);
        File.SetUnixFileMode(paths.SocketDirectory, Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);

        var act = () => TestAgent.Build(paths);

        var refused = act.Should().Throw<AgentStartupException>().Which;
        refused.ExitCode.Should().Be(2);
        refused.Message.Should().Contain("chmod 700 " + paths.SocketDirectory);
    }

    [Fact]
    public void Build_DirectoryOfAnotherUser_Refuses()
    {
        if (UnixNative.EffectiveUserId() != 0)
        {
            return; // Only root can give a directory away; the check is the same code as the mode check above.
        }

        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory, Private);
        Chown(paths.SocketDirectory, "65534:65534");

        var act = () => TestAgent.Build(paths);

        var refused = act.Should().Throw<AgentStartupException>().Which;
        refused.ExitCode.Should().Be(2);
        refused.Message.Should().Contain("belongs to uid 65534");
    }

    [Fact]
    public async Task Build_SecondDaemonOnTheSameSocket_RefusedUntilTheFirstStops()
    {
        using var timeout = TestTimeout.Start();
        var first = await TestAgent.StartAsync(timeout.Token);
        var paths = first.Paths;
        try
        {
            var act = () => TestAgent.Build(paths);

            var refused = act.Should().Throw<AgentStartupException>().Which;
            refused.ExitCode.Should().Be(1);
            refused.Message.Should().Contain("already running").And.Contain("pid " + Environment.ProcessId);
        }
        finally
        {
            await first.DisposeAsync();
        }

        await using var next = await TestAgent.StartAsync(timeout.Token, paths);
        File.Exists(paths.Socket).Should().BeTrue();
    }

    [Fact]
    public async Task Build_StaleSocketFile_IsRemovedAndTheDaemonStarts()
    {
        using var timeout = TestTimeout.Start();
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory, Private);
        // A process that bound the socket and died leaves the file (.NET would unlink it on dispose; python does not).
        using (var dead = Process.Start(new ProcessStartInfo("/usr/bin/python3")
        {
            ArgumentList = { "-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", paths.Socket },
        })!)
        {
            await dead.WaitForExitAsync(timeout.Token);
        }

        File.Exists(paths.Socket).Should().BeTrue();

        await using var agent = await TestAgent.StartAsync(timeout.Token, paths);
        using var response = await agent.PostHookAsync(HookPayloads.PreToolUse(), timeout.Token);
        await HookAsync(paths.Socket, timeout.Token);
    }

    [Fact]
    public void Build_SomethingElseServesTheSocket_Refuses()
    {
        using var root = new TempDirectory("relay-agent-test-");
        var paths = TestAgentPaths.Create(root.Path);
        Directory.CreateDirectory(paths.SocketDirectory, Private);
        using var alive = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        alive.Bind(new UnixDomainSocketEndPoint(paths.Socket));
        alive.Listen();

        var act = () => TestAgent.Build(paths);

        act.Should().Throw<AgentStartupException>().Which.Message.Should().Contain("already serves");
        File.Exists(paths.Socket).Should().BeTrue("a live socket is never removed");
    }

    [Fact]
    public async Task Connection_FromTheSameUser_IsServedWithItsPeerCredentials()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);

        await HookAsync(agent.Paths.Socket, timeout.Token);

        agent.State.LastPeer.Should().Be(new PeerCredentials(Environment.ProcessId, UnixNative.EffectiveUserId(), agent.State.LastPeer!.Gid));
    }

    [Fact]
    public async Task Connection_FromAnotherUid_IsClosedWhileTheSameUidIsServed()
    {
        using var timeout = TestTimeout.Start();
        await using var agent = await TestAgent.StartAsync(timeout.Token);
        if (UnixNative.EffectiveUserId() != 0)
        {
            return; // Connecting as another uid needs root (setpriv); the same-uid path is covered above.
        }

        // Open the filesystem protection by hand, as a mistaken chmod would: the peer check is what is left.
        File.SetUnixFileMode(agent.Paths.Root, Private | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(agent.Paths.SocketDirectory, Private | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(agent.Paths.Socket, (UnixFileMode)0b110_110_110);

        var same = await ProbeAsync(agent.Paths.Socket, asNobody: false, timeout.Token);
        var other = await ProbeAsync(agent.Paths.Socket, asNobody: true, timeout.Token);

        same.Should().Be("open", "the agent's own user speaks HTTP/2 with it");
        other.Should().Be("closed", "uid 65534 reached the socket but the agent hung up");
    }

    private static async Task HookAsync(string socket, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress("unix:" + socket);
        var client = new LocalAgent.LocalAgentClient(channel);
        await client.HookAsync(
            new HookRequest { EventId = Guid.NewGuid().ToString(), RawJson = HookPayloads.SessionStart() },
            deadline: DateTime.UtcNow.AddSeconds(30),
            cancellationToken: cancellationToken);
    }

    // Sends the HTTP/2 preface and an empty SETTINGS frame; a served connection answers with the server's SETTINGS.
    private const string ProbeScript = """
        import socket, sys
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(sys.argv[1])
        try:
            s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + b'\x00\x00\x00\x04\x00\x00\x00\x00\x00')
            data = s.recv(9)
        except (ConnectionResetError, BrokenPipeError):
            data = b''
        print('open' if len(data) == 9 and data[3] == 4 else 'closed')
        """;

    private static async Task<string> ProbeAsync(string socket, bool asNobody, CancellationToken cancellationToken)
    {
        var start = asNobody
            ? new ProcessStartInfo("/usr/bin/setpriv") { ArgumentList = { "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", ProbeScript, socket } }
            : new ProcessStartInfo("/usr/bin/python3") { ArgumentList = { "-c", ProbeScript, socket } };
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        (await stderr).Should().BeEmpty();
        return (await stdout).Trim();
    }

    private static void Chown(string path, string owner)
    {
        using var process = Process.Start(new ProcessStartInfo("chown") { ArgumentList = { owner, path } })!;
        process.WaitForExit();
        process.ExitCode.Should().Be(0);
    }
}
