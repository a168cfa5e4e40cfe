using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Bench.Prompts;

/// <summary>
/// The operator's side: sends every prompt of the ledger with <c>Admin.SendPrompt</c> (answered as soon as the prompt is
/// stored), on a fixed schedule at <c>rate</c> prompts/s, round-robin over the sessions. Each call runs on its own, so a
/// slow call never holds back the next one; the time each prompt was due is kept beside when its call started. A broker
/// that cannot keep up holds the calls back; once the schedule is <see cref="MaxLag"/> behind, the rest is not sent, so
/// the run stays bounded in time and says how far it got.
/// </summary>
internal static class PromptSchedule
{
    /// <summary>
    /// SendPrompt calls in flight at once. At 100 prompts/s and 20 ms each about 2 are; a broker that falls behind holds
    /// more, queued in the broker (Prompts:MaxConcurrentSends), as a script's or a dashboard's burst would be.
    /// </summary>
    private const int MaxInFlight = 256;

    /// <summary>How far behind its schedule the sender may fall before it stops sending.</summary>
    public static readonly TimeSpan MaxLag = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <param name="admin">An admin client on the sender's own connection.</param>
    /// <param name="headers">The operator's token.</param>
    /// <param name="ledger">The prompts, and where their times go.</param>
    /// <param name="sessionIds">The Relay session id of each simulated Claude.</param>
    /// <param name="rate">Prompts per second.</param>
    /// <param name="cancellationToken">Ends the run early.</param>
    /// <returns>How many prompts were sent (all of the ledger's unless the schedule fell <see cref="MaxLag"/> behind).</returns>
    public static async Task<int> RunAsync(Admin.AdminClient admin, Metadata headers, RoundTripLedger ledger, IReadOnlyList<string> sessionIds, double rate, CancellationToken cancellationToken)
    {
        using var inFlight = new SemaphoreSlim(MaxInFlight);
        var calls = new List<Task>(ledger.Count);
        var start = Stopwatch.GetTimestamp();
        var sent = 0;
        for (; sent < ledger.Count; sent++)
        {
            var due = start + (long)(sent * Stopwatch.Frequency / rate);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }
            else if (-wait > MaxLag)
            {
                break;
            }

            ledger.Due[sent] = due;
            await inFlight.WaitAsync(cancellationToken);
            calls.Add(SendAsync(admin, headers, ledger, sent, sessionIds[ledger.SessionOf(sent)], inFlight, cancellationToken));
        }

        await Task.WhenAll(calls);
        return sent;
    }

    private static async Task SendAsync(Admin.AdminClient admin, Metadata headers, RoundTripLedger ledger, int i, string sessionId, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        try
        {
            ledger.CallStarted[i] = Stopwatch.GetTimestamp();
            var response = await admin.SendPromptAsync(
                new SendPromptRequest
                {
                    PromptId = ledger.Key(i),
                    Session = new SessionSelector { SessionId = sessionId },
                    Text = RoundTripLedger.PromptText(i),
                    ExpiresIn = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)),
                },
                headers,
                DateTime.UtcNow + CallTimeout,
                cancellationToken);
            ledger.Accepted[i] = Stopwatch.GetTimestamp();
            Volatile.Write(ref ledger.BrokerIds[i], response.Prompt.PromptId);
            if (response.Prompt.Status is PromptStatus.Failed or PromptStatus.Expired)
            {
                ledger.Problem($"SendPrompt stored prompt {response.Prompt.PromptId} as {response.Prompt.Status}");
            }
        }
        catch (RpcException ex)
        {
            ledger.Problem($"SendPrompt for prompt #{i} failed: {ex.StatusCode} {ex.Status.Detail}");
        }
        finally
        {
            inFlight.Release();
        }
    }
}
