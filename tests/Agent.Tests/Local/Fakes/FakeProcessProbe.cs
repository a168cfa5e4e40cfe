using Relay.Agent.Sessions;

namespace Relay.Agent.Tests.Local.Fakes;

/// <summary>
/// Processes the test makes up: every pid is a live Claude started with the Relay channel (start ticks = pid) unless
/// the test removes it or says it runs without the channel flag.
/// </summary>
internal sealed class FakeProcessProbe : IProcessProbe
{
    private readonly HashSet<int> _gone = [];
    private readonly HashSet<int> _withoutChannel = [];

    public void Kill(int pid)
    {
        lock (_gone)
        {
            _gone.Add(pid);
        }
    }

    public void WithoutChannelFlag(int pid)
    {
        lock (_gone)
        {
            _withoutChannel.Add(pid);
        }
    }

    public ProcessInfo? Probe(int pid)
    {
        lock (_gone)
        {
            if (pid <= 0 || _gone.Contains(pid))
            {
                return null;
            }

            string[] commandLine = _withoutChannel.Contains(pid)
                ? ["node", "/usr/bin/claude"]
                : ["node", "/usr/bin/claude", "--dangerously-load-development-channels", "server:relay"];
            return new ProcessInfo(pid, pid, DateTimeOffset.UnixEpoch.AddSeconds(pid), commandLine);
        }
    }
}
