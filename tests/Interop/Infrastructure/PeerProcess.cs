using System.Diagnostics;
using System.Text;

namespace Relay.Interop.Tests.Infrastructure;

/// <summary>A peer program started by a test, with its output captured and its lifetime bounded.</summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _stderrLock = new();
    private readonly Task _stderrPump;

    private PeerProcess(Process process)
    {
        _process = process;
        _stderrPump = PumpStderrAsync();
    }

    public StreamReader StandardOutput => _process.StandardOutput;

    public int ProcessId => _process.Id;

    /// <summary>Everything the peer wrote to stderr so far (its diagnostics), for failure messages.</summary>
    public string Stderr
    {
        get
        {
            lock (_stderrLock)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>
    /// Checks the peer's runtime, then starts <paramref name="script"/> (e.g. <c>interop_server</c>) of <paramref name="peer"/>. Its stdin
    /// is a pipe that stays open until <see cref="DisposeAsync"/>: the peer servers exit on EOF there.
    /// </summary>
    public static async Task<PeerProcess> StartAsync(Peer peer, string script, IEnumerable<string> arguments)
    {
        await Peers.EnsureInstalledAsync(peer);
        var (fileName, scriptPath) = Peers.Command(peer, script);
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Peers.RepoRoot,
        };
        info.ArgumentList.Add(scriptPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return new PeerProcess(Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName} {scriptPath}."));
    }

    /// <summary>Waits for exit within <paramref name="timeout"/>; kills the peer and returns null when it does not.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            return null;
        }

        // The exit event can precede the last stderr bytes; the pump ends at EOF, which follows exit.
        await _stderrPump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return _process.ExitCode;
    }

    /// <summary>Closes the peer's stdin: EOF there is the servers' cue to stop.</summary>
    public void CloseStandardInput()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The peer is gone already; nothing to tell it.
        }
    }

    /// <summary>Closes stdin, then kills the peer if it has not exited within 5 s.</summary>
    public async ValueTask DisposeAsync()
    {
        CloseStandardInput();

        if (!_process.HasExited)
        {
            await WaitForExitAsync(TimeSpan.FromSeconds(5));
        }

        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited in the meantime.
        }
    }

    private async Task PumpStderrAsync()
    {
        var buffer = new char[4096];
        int read;
        while ((read = await _process.StandardError.ReadAsync(buffer)) > 0)
        {
            lock (_stderrLock)
            {
                _stderr.Append(buffer, 0, read);
            }
        }
    }
}
