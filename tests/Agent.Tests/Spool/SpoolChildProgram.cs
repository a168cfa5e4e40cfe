using System.Globalization;
using Relay.Agent.Tests.Spool;

namespace Relay.Agent.Tests;

/// <summary>
/// The test assembly's entry point (the test SDK's generated one does nothing). <c>spool-child &lt;dir&gt; &lt;count&gt;</c>
/// appends hook events from eight concurrent producers and prints <c>seq event-id</c> for each once it is durable: the
/// kill -9 test runs it as a child process and kills it mid-stream.
/// </summary>
public static class SpoolChildProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["spool-ack-child", var ackDirectory, var ackCountText])
        {
            return await AppendAndAcknowledgeAsync(ackDirectory, int.Parse(ackCountText, CultureInfo.InvariantCulture));
        }

        if (args is not ["spool-child", var directory, var countText])
        {
            await Console.Error.WriteLineAsync("usage: spool-child <dir> <count> | spool-ack-child <dir> <count>");
            return 2;
        }

        var count = int.Parse(countText, CultureInfo.InvariantCulture);
        await using var spool = SpoolTestSupport.Open(directory, segmentBytes: 64 * 1024);
        var next = -1;
        var writeLock = new Lock();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var eventId = "child-" + i.ToString(CultureInfo.InvariantCulture);
                var seq = await spool.AppendAsync(SpoolTestSupport.Hook(eventId, padding: 200), CancellationToken.None);
                lock (writeLock)
                {
                    Console.Out.WriteLine(seq.ToString(CultureInfo.InvariantCulture) + " " + eventId);
                }
            }
        })));
        return 0;
    }

    /// <summary>
    /// One producer as the http hook with a fast broker: append, acknowledge (as the broker's Ack does), print the seq once
    /// the Ack returned. Small segments, so that acknowledged segments are deleted as it goes.
    /// </summary>
    private static async Task<int> AppendAndAcknowledgeAsync(string directory, int count)
    {
        await using var spool = SpoolTestSupport.Open(directory, segmentBytes: 16 * 1024);
        for (var i = 0; i < count; i++)
        {
            var seq = await spool.AppendAsync(SpoolTestSupport.Hook("ack-child-" + i.ToString(CultureInfo.InvariantCulture), padding: 200), CancellationToken.None);
            await spool.AcknowledgeAsync(seq, CancellationToken.None);
            Console.Out.WriteLine(seq.ToString(CultureInfo.InvariantCulture));
        }

        return 0;
    }
}
