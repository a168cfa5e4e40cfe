using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Relay.Broker.Tests.Infrastructure;
using Relay.Channel.Tests.Infrastructure;

namespace Relay.Channel.Tests;

/// <summary>The process on plain pipes: nothing but JSON-RPC on stdout, clean exits, events only after the handshake.</summary>
public sealed class StdioTests : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("relay-channel-");
    private readonly CancellationTokenSource _timeout = TestTimeout.Start();
    private AgentDouble _agent = null!;

    private string SocketPath => Path.Combine(_directory.Path, "agent.sock");

    private CancellationToken Timeout => _timeout.Token;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory.Path);
        _agent = await AgentDouble.StartAsync(SocketPath);
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _timeout.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public async Task Stdout_CarriesOnlyJsonRpc_EvenWithDebugLoggingAndTraffic()
    {
        await using var channel = RawChannelProcess.Start(ChannelUnderTest.Environment(SocketPath, "raw-1", new Dictionary<string, string?> { ["Logging__LogLevel__Default"] = "Trace" }));
        await channel.SendAsync(RawChannelProcess.Initialize());
        await channel.ReadResponseAsync(1, Timeout);
        await channel.SendAsync(RawChannelProcess.Initialized());
        var stream = await _agent.WaitForStreamAsync(Timeout);
        await stream.SendAsync(Messages.Prompt("p-1", "hello"));
        await channel.SendAsync(RawChannelProcess.Request(2, "tools/list"));
        await channel.ReadResponseAsync(2, Timeout);
        while (!channel.StdoutLines.Any(l => l.Contains("notifications/claude/channel", StringComparison.Ordinal)))
        {
            (await channel.ReadLineAsync(Timeout)).Should().NotBeNull();
        }

        channel.CloseStdin();
        while (await channel.ReadLineAsync(Timeout) is not null)
        {
        }

        channel.Stderr.Should().NotBeEmpty("logs go to stderr");
        channel.StdoutLines.Should().NotBeEmpty().And.OnlyContain(l => IsJsonRpc(l), "stdout is the MCP stream; stderr was:\n" + channel.Stderr);
    }

    [Fact]
    public async Task StdinClosed_ExitsZeroWithoutAStackTrace()
    {
        await using var channel = RawChannelProcess.Start(ChannelUnderTest.Environment(SocketPath, "raw-2"));
        await channel.SendAsync(RawChannelProcess.Initialize());
        await channel.ReadResponseAsync(1, Timeout);
        await channel.SendAsync(RawChannelProcess.Initialized());
        await _agent.WaitForStreamAsync(Timeout);

        channel.CloseStdin();
        var exitCode = await channel.WaitForExitAsync(Timeout);

        exitCode.Should().Be(0, channel.Stderr);
        channel.Stderr.Should().NotContain("Exception").And.NotContain("   at ");
    }

    [Fact]
    public async Task StdinClosed_WhileTheAgentIsAway_ExitsZero()
    {
        await _agent.StopAsync();
        await using var channel = RawChannelProcess.Start(ChannelUnderTest.Environment(SocketPath, "raw-3"));
        await channel.SendAsync(RawChannelProcess.Initialize());
        await channel.ReadResponseAsync(1, Timeout);

        channel.CloseStdin();
        var exitCode = await channel.WaitForExitAsync(Timeout);

        exitCode.Should().Be(0, channel.Stderr);
        channel.Stderr.Should().NotContain("Exception").And.NotContain("   at ");
    }

    [Fact]
    public async Task Prompt_BeforeNotificationsInitialized_WaitsForIt()
    {
        await using var channel = RawChannelProcess.Start(ChannelUnderTest.Environment(SocketPath, "raw-4"));
        var stream = await _agent.WaitForStreamAsync(Timeout);
        await stream.SendAsync(Messages.Prompt("p-early", "sent before the handshake"));
        await channel.SendAsync(RawChannelProcess.Initialize());
        await channel.ReadResponseAsync(1, Timeout);
        await channel.SendAsync(RawChannelProcess.Request(2, "ping"));
        await channel.ReadResponseAsync(2, Timeout);

        channel.StdoutLines.Should().NotContain(l => l.Contains("notifications/claude/channel", StringComparison.Ordinal));
        _agent.Received.Snapshot().Should().NotContain(m => m.PromptAck != null);

        await channel.SendAsync(RawChannelProcess.Initialized());
        string? line;
        do
        {
            line = await channel.ReadLineAsync(Timeout);
        }
        while (line is not null && !line.Contains("p-early", StringComparison.Ordinal));

        line.Should().NotBeNull();
        var notification = JsonNode.Parse(line!)!.AsObject();
        notification["method"]!.GetValue<string>().Should().Be("notifications/claude/channel");
        notification.ContainsKey("id").Should().BeFalse("a notification has no id");
        (await _agent.Received.WaitForAsync(m => m.PromptAck, Timeout)).PromptId.Should().Be("p-early");
    }

    [Fact]
    public async Task ParentGone_ChannelExitsEvenWithStdinOpen()
    {
        // sh starts the channel in the background, prints its pid, then becomes `sleep`: killing that pid kills the
        // channel's parent while the channel's stdin (passed on through fd 3, because sh gives background
        // jobs /dev/null) stays open.
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec 3<&0; dotnet \"$0\" <&3 3<&- 2>/dev/null & echo $!; exec sleep 600 3<&-");
        start.ArgumentList.Add(ChannelUnderTest.ChannelDll);
        foreach (var (key, value) in ChannelUnderTest.Environment(SocketPath, "raw-5", new Dictionary<string, string?> { ["Channel__ParentPollInterval"] = "00:00:00.100" }))
        {
            start.Environment[key] = value;
        }

        using var parent = Process.Start(start)!;
        try
        {
            var channelPid = int.Parse((await parent.StandardOutput.ReadLineAsync(Timeout))!, System.Globalization.CultureInfo.InvariantCulture);
            var hello = (await _agent.WaitForStreamAsync(Timeout)).Hello;
            hello.ChannelPid.Should().Be(channelPid);
            hello.ClaudePid.Should().Be(parent.Id);

            parent.Kill();
            await parent.WaitForExitAsync(Timeout);

            // The channel is no child of ours: wait for its stdout (shared with sh) to reach end of file.
            (await parent.StandardOutput.ReadToEndAsync(Timeout)).Should().BeEmpty();
            ProcessState(channelPid).Should().BeOneOf(["gone", "Z"], "the channel exits once its parent is gone (a zombie until its new parent reaps it)");
        }
        finally
        {
            if (!parent.HasExited)
            {
                parent.Kill(entireProcessTree: true);
            }
        }
    }

    // The state letter from /proc/<pid>/stat (R, S, Z, ...), or "gone".
    private static string ProcessState(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "gone";
        }
    }

    private static bool IsJsonRpc(string line)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject o && (string?)o["jsonrpc"] == "2.0";
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
