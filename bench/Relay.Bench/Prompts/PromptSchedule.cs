using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Bench.Prompts;

/// <summary>
/// The operator's side: sends every prompt of the ledger with <c>Admin.SendPrompt</c> (answered as soon as the prompt is
/// stored), on a fixed schedule at <c>rate</c> prompts/s, round-robin over the sessions. Each call runs on its own, so a
/// slow call never holds back the next one; the time each prompt was due is kept beside when its call started.
/// </summary>
internal static class PromptSchedule
{
    /// <summary>SendPrompt calls in flight at once; more would mean the broker is far behind, and the run says so.</summary>
    private const int MaxInFlight = 512;

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <param name="admin">An admin client on the sender's own connection.</param>
    /// <param name="headers">The operator's token.</param>
    /// <param name="ledger">The prompts, and where their times go.</param>
    /// <param name="sessionIds">The Relay session id of each simulated Claude.</param>
    /// <param name="rate">Prompts per second.</param>
    /// <param name="cancellationToken">Ends the run early.</param>
    public static async Task RunAsync(Admin.AdminClient admin, Metadata headers, RoundTripLedger ledger, IReadOnlyList<string> sessionIds, double rate, CancellationToken cancellationToken)
    {
        using var inFlight = new SemaphoreSlim(MaxInFlight);
        var calls = new List<Task>(ledger.Count);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < ledger.Count; i++)
        {
            var due = start + (long)(i * Stopwatch.Frequency / rate);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            ledger.Due[i] = due;
            await inFlight.WaitAsync(cancellationToken);
            calls.Add(SendAsync(admin, headers, ledger, i, sessionIds[ledger.SessionOf(i)], inFlight, cancellationToken));
        }

        await Task.WhenAll(calls);
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
