using System.Diagnostics;
using System.Globalization;
using Relay.Broker.Tests.Infrastructure;
using static Relay.Agent.Tests.Spool.SpoolTestSupport;

namespace Relay.Agent.Tests.Spool;

/// <summary>The spool survives kill -9 of its process: what was reported durable is there exactly once, in order.</summary>
public sealed class SpoolKillTests : IDisposable
{
    private readonly TempDirectory _directory = new("relay-spool-kill-");

    [Fact]
    public async Task Append_ProcessKilledMidStream_EveryReportedItemPresentOnceInOrder()
    {
        using var timeout = TestTimeout.Start();
        const int killAfter = 1500;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Relay.Agent.Tests.dll"), "spool-child", _directory.Path, "1000000" })
        {
            start.ArgumentList.Add(arg);
        }

        var reported = new List<(ulong Seq, string Id)>();
        using (var child = Process.Start(start)!)
        {
            var stderr = child.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                while (reported.Count < killAfter && await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
                {
                    var parts = line.Split(' ');
                    reported.Add((ulong.Parse(parts[0], CultureInfo.InvariantCulture), parts[1]));
                }

                reported.Should().HaveCount(killAfter, "the child should still be appending: " + (child.HasExited ? await stderr : "running"));
            }
            finally
            {
                // SIGKILL: no finalizers, no flush, the writer is cut wherever it is.
                child.Kill();
                await child.WaitForExitAsync(timeout.Token);
            }

            // Lines printed after the kill decision but before the signal landed were durable too.
            while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                var parts = line.Split(' ');
                reported.Add((ulong.Parse(parts[0], CultureInfo.InvariantCulture), parts[1]));
            }
        }

        await using var spool = Open(_directory.Path, segmentBytes: 64 * 1024);
        var recovered = ReadAll(spool).Select(m => (m.Seq, Id(m))).ToList();

        recovered.Select(r => r.Seq).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        recovered.Select(r => r.Item2).Should().OnlyHaveUniqueItems();
        recovered.Should().Contain(reported, "every append reported durable survives kill -9");
        recovered.Select(r => r.Seq).Should().Equal(Enumerable.Range(1, recovered.Count).Select(i => (ulong)i), "no holes and nothing torn");
        (await spool.AppendAsync(Hook("after-kill"), timeout.Token)).Should().Be((ulong)recovered.Count + 1);
    }

    public void Dispose() => _directory.Dispose();
}
