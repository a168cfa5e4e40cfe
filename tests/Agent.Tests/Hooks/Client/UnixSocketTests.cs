using System.Diagnostics;
using System.Runtime.InteropServices;
using Relay.Agent.Hooks.Client;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>The hook client's bare libc socket, where signals and timeouts meet.</summary>
public sealed class UnixSocketTests : IDisposable
{
    private const int SigWinch = 28;
    private readonly TempDirectory _root = new("relay-unixsocket-");

    public UnixSocketTests() => Directory.CreateDirectory(_root.Path);

    private string SocketPath => Path.Combine(_root.Path, "agent.sock");

    [Fact]
    public async Task TryConnect_SignalsWhileABusyListenerKeepsItWaiting_TimesOutAfterTheWholeTimeout()
    {
        using var timeout = TestTimeout.Start();
        // A handler makes the signal interrupt the blocked connect (an ignored signal would not); the runtime's handler
        // runs with SA_RESTART, and still a connect with SO_SNDTIMEO returns EINTR (signal(7)).
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context => context.Cancel = true);
        using var listener = FullListener.Open(SocketPath);
        var wait = TimeSpan.FromMilliseconds(800);
        var thread = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var connecting = Task.Factory.StartNew(
            () =>
            {
                thread.SetResult(gettid());
                var clock = Stopwatch.StartNew();
                using var socket = UnixSocket.TryConnect(SocketPath, wait, out var failure);
                return (Connected: socket is not null, Failure: failure, Elapsed: clock.Elapsed);
            },
            timeout.Token,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        var tid = await thread.Task.WaitAsync(timeout.Token);

        // Bounded: at most 40 signals, 10 ms apart, while the connect waits.
        var sent = 0;
        for (; sent < 40 && !connecting.IsCompleted; sent++)
        {
            tgkill(Environment.ProcessId, tid, SigWinch).Should().Be(0);
            Thread.Sleep(10);
        }

        var (connected, failure, elapsed) = await connecting.WaitAsync(timeout.Token);

        connected.Should().BeFalse();
        failure!.IsTimeout.Should().BeTrue("an interrupted connect is asked again, not reported: {0}", failure.Message);
        elapsed.Should().BeGreaterThanOrEqualTo(wait - TimeSpan.FromMilliseconds(50), "each retry waits for what is left of the timeout");
        sent.Should().BeGreaterThan(1);
    }

    public void Dispose() => _root.Dispose();

    [DllImport("libc")]
    private static extern int gettid();

    [DllImport("libc")]
    private static extern int tgkill(int tgid, int tid, int signal);
}
