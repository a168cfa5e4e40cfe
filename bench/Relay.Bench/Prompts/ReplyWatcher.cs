using System.Diagnostics;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Bench.Prompts;

/// <summary>
/// A watcher as relayctl watch or a dashboard has one: <c>Admin.Watch</c> on its own connection, for REPLY events of
/// the bench's machine, live from when it starts. Each reply is matched to its prompt by <c>in_reply_to</c> and timed as
/// it comes off the stream. A stream the broker ends for falling behind (RESOURCE_EXHAUSTED) is resumed from its last
/// cursor, a bounded number of times, as relayctl does.
/// </summary>
internal sealed class ReplyWatcher : IAsyncDisposable
{
    private const int MaxResumes = 5;
    private static readonly TimeSpan LiveTimeout = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel;
    private readonly Admin.AdminClient _admin;
    private readonly Metadata _headers;
    private readonly RoundTripLedger _ledger;
    private readonly IReadOnlyDictionary<string, int> _sessions;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _live = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly WatchRequest _request;
    private Task _reader = Task.CompletedTask;
    private string? _cursor;

    private ReplyWatcher(string address, string adminToken, string machine, RoundTripLedger ledger, IReadOnlyDictionary<string, int> sessions)
    {
        _channel = GrpcChannel.ForAddress(address);
        _admin = new Admin.AdminClient(_channel);
        _headers = new Metadata { { "authorization", "Bearer " + adminToken } };
        _ledger = ledger;
        _sessions = sessions;
        _request = new WatchRequest { Machines = { machine }, Kinds = { EventKind.Reply }, OmitRawJson = true };
    }

    /// <summary>Streams that had to be resumed after the broker ended them for falling behind.</summary>
    public int Resumes { get; private set; }

    /// <summary>Replies on the machine that name no prompt of the run.</summary>
    public int Strays { get; private set; }

    /// <summary>Opens the watch and returns once the broker's first checkpoint says it is live.</summary>
    /// <param name="address">The broker.</param>
    /// <param name="adminToken">A viewer's (here the admin's) token.</param>
    /// <param name="machine">The machine whose replies are watched (id or name).</param>
    /// <param name="ledger">Where the replies are recorded.</param>
    /// <param name="sessions">Relay session id → index of its simulated Claude.</param>
    /// <param name="cancellationToken">Bounds the start.</param>
    public static async Task<ReplyWatcher> StartAsync(
        string address, string adminToken, string machine, RoundTripLedger ledger, IReadOnlyDictionary<string, int> sessions, CancellationToken cancellationToken)
    {
        var watcher = new ReplyWatcher(address, adminToken, machine, ledger, sessions);
        watcher._reader = Task.Run(watcher.ReadAsync, CancellationToken.None);
        try
        {
            await watcher._live.Task.WaitAsync(LiveTimeout, cancellationToken);
            return watcher;
        }
        catch (TimeoutException)
        {
            await watcher.DisposeAsync();
            throw new InvalidOperationException($"Admin.Watch sent no checkpoint within {LiveTimeout.TotalSeconds:0} s.");
        }
        catch
        {
            await watcher.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reader.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _channel.Dispose();
        _stop.Dispose();
    }

    private async Task ReadAsync()
    {
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    using var call = _admin.WatchAsync(_request, _headers, cancellationToken: token);
                    while (await call.ResponseStream.MoveNext(token))
                    {
                        var at = Stopwatch.GetTimestamp();
                        var item = call.ResponseStream.Current;
                        if (item.ItemCase == WatchResponse.ItemOneofCase.Checkpoint)
                        {
                            // Live from now: the first checkpoint is the position after which every reply comes.
                            _cursor = item.Checkpoint.Cursor;
                            _live.TrySetResult();
                        }
                        else if (item.Event is { Reply: { } reply } watched)
                        {
                            _cursor = watched.Cursor;
                            OnReply(reply, at);
                        }
                    }

                    _ledger.Problem("the broker ended the watch stream");
                    _live.TrySetException(new InvalidOperationException("the broker ended the watch stream before its first checkpoint"));
                    return;
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted && _cursor is not null && Resumes < MaxResumes)
                {
                    Resumes++;
                    _request.AfterCursor = _cursor;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled } && token.IsCancellationRequested)
        {
            // Stopped.
        }
        catch (Exception ex) when (ex is RpcException or IOException or InvalidOperationException)
        {
            _ledger.Problem("the watch stream broke: " + ex.Message);
            _live.TrySetException(new InvalidOperationException("the watch stream broke before it was live: " + ex.Message, ex));
        }
    }

    private void OnReply(Reply reply, long at)
    {
        if (!_ledger.TryIndexOfReply(reply.Text, out var i) || reply.Text != RoundTripLedger.ReplyText(i))
        {
            Strays++;
            _ledger.Problem($"the watcher saw a reply ({reply.ReplyId}, in reply to {(reply.InReplyTo.Length == 0 ? "nothing" : reply.InReplyTo)}) that no simulated Claude wrote: '{reply.Text}'");
            return;
        }

        if (!_sessions.TryGetValue(reply.SessionId, out var session) || session != _ledger.SessionOf(i))
        {
            _ledger.Problem($"the reply to prompt {_ledger.Name(i)} came from session {reply.SessionId}, not the one it was sent to");
        }

        _ledger.OnSeen(i, reply.InReplyTo, at);
    }
}
