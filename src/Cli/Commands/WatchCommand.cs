using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary>
/// <c>relayctl watch [&lt;session&gt;]</c>: live events, resumable. Every item carries a cursor; the last one seen is
/// where <c>--after</c> resumes with no gap and no duplicate (the broker's promise, admin_sessions.proto).
/// </summary>
internal static class WatchCommand
{
    // A watcher that falls behind is cut off with RESOURCE_EXHAUSTED and resumes from its cursor; if that keeps happening
    // without a single item getting through, something else is wrong and we stop.
    private const int MaxResumesWithoutProgress = 5;

    public static Command Create(CliContext context)
    {
        var session = new Argument<string?>("session")
        {
            Description = "Only this session (Relay id, Claude session id, launch id, name or id prefix); default: every session and machine.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var machines = new Option<string[]>("--machine") { Description = "Only events of this machine (id or name; repeatable).", HelpName = "machine" };
        var kinds = Events.KindOption("Only events of this kind (repeatable): hook, prompt-created, prompt-updated, reply, approval-requested, "
            + "approval-resolved, session-started, session-updated, session-ended, launch-updated, machine-connected, ...");
        var after = new Option<string?>("--after") { Description = "Resume: replay every event after this cursor, then continue live.", HelpName = "cursor" };
        var since = BrokerAction.DurationOption("--since", "Replay the events of this long ago (e.g. 10m), then continue live.");
        var count = new Option<int?>("--count") { Description = "Exit (code 0) after this many events.", HelpName = "n" };
        var raw = new Option<bool>("--raw") { Description = "With --json: include each hook's raw JSON payload (large)." };
        var command = new RelayCommand("watch",
            "Print events as they happen until Ctrl-C (exit code 0). With --json, one JSON object per line: {\"event\":{...}} or "
            + "{\"checkpoint\":{...}}, each with a cursor; pass the last cursor to --after to resume without gap or duplicate.",
            "relayctl watch",
            "relayctl watch api-refactor --kind reply --kind approval-requested",
            "relayctl watch --machine build-box-3 --since 10m",
            "relayctl watch --json | jq -c 'select(.event) | .event.kind'",
            "relayctl watch api-refactor --after ev1234 --json")
        {
            session, machines, kinds, after, since, count, raw,
        };
        command.Validators.Add(result =>
        {
            if (result.GetResult(after) is { Implicit: false } && result.GetResult(since) is { Implicit: false })
            {
                result.AddError("--after and --since cannot be combined: --after resumes from a cursor, --since replays a time span.");
            }

            if (result.GetValue(count) is <= 0)
            {
                result.AddError("--count must be at least 1.");
            }
        });
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new WatchRequest
            {
                Machines = { call.ParseResult.GetValue(machines) ?? [] },
                Kinds = { Events.Parse(call.ParseResult.GetValue(kinds)) },
                OmitRawJson = !call.ParseResult.GetValue(raw),
            };
            if (call.ParseResult.GetValue(session) is { } reference)
            {
                request.Session = BrokerAction.Selector(reference, null);
            }

            if (call.ParseResult.GetValue(after) is { } cursor)
            {
                request.AfterCursor = cursor;
            }
            else if (call.ParseResult.GetValue(since) is { } ago)
            {
                request.Since = Timestamp.FromDateTimeOffset(context.Time.GetUtcNow() - ago);
            }

            var watcher = new Watcher(call, request, call.ParseResult.GetValue(count));
            return await watcher.RunAsync(cancellationToken);
        });
        return command;
    }

    private sealed class Watcher(BrokerCall call, WatchRequest request, int? count)
    {
        private readonly Printer _printer = call.Printer;
        private string? _cursor = request.StartCase == WatchRequest.StartOneofCase.AfterCursor ? request.AfterCursor : null;
        private int _events;
        private bool _announced;

        public async Task<int> RunAsync(CancellationToken cancellationToken)
        {
            var resumes = 0;
            while (true)
            {
                var progressBefore = _events;
                var cursorBefore = _cursor;
                try
                {
                    if (await ReadAsync(cancellationToken))
                    {
                        return Stop();
                    }

                    // The broker ended the stream cleanly (it is shutting down): say where to pick up.
                    _printer.Note("relayctl: the broker ended the watch.");
                    return Stop();
                }
                catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException)
                {
                    // Ctrl-C: a normal way to end a watch.
                    return Stop();
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && _cursor is not null)
                {
                    resumes = _events > progressBefore || _cursor != cursorBefore ? 1 : resumes + 1;
                    if (resumes > MaxResumesWithoutProgress)
                    {
                        throw;
                    }

                    _printer.Note("relayctl: fell behind the broker (" + e.Status.Detail + "); resuming from " + _cursor + ".");
                    request.AfterCursor = _cursor;
                }
                catch (RpcException e)
                {
                    var code = ErrorReporter.Report(e, _printer.Error);
                    Stop();
                    return code;
                }
            }
        }

        /// <summary>Reads one stream to its end; true when --count was reached.</summary>
        private async Task<bool> ReadAsync(CancellationToken cancellationToken)
        {
            using var stream = call.Admin.WatchAsync(request, new CallOptions(CancellationToken: cancellationToken));
            while (await stream.ResponseStream.MoveNext(cancellationToken))
            {
                var item = stream.ResponseStream.Current;
                if (item.ItemCase == WatchResponse.ItemOneofCase.Checkpoint)
                {
                    _cursor = item.Checkpoint.Cursor;
                    Announce(item.Checkpoint);
                    if (_printer.Json)
                    {
                        _printer.Message(item);
                    }

                    continue;
                }

                if (item.ItemCase != WatchResponse.ItemOneofCase.Event)
                {
                    continue;
                }

                _cursor = item.Event.Cursor;
                _events++;
                if (_printer.Json)
                {
                    _printer.Message(item);
                }
                else
                {
                    var row = Events.Row(_printer, item.Event);
                    _printer.Output.WriteLine(string.Join("  ", row[0], Events.Machine(item.Event), row[1], row[2], row[3]));
                }

                if (count is { } limit && _events >= limit)
                {
                    return true;
                }
            }

            return false;
        }

        private void Announce(WatchCheckpoint checkpoint)
        {
            if (!_announced)
            {
                _announced = true;
                _printer.Note("Watching from cursor " + checkpoint.Cursor + (checkpoint.CaughtUp ? string.Empty : " (replaying)") + "; Ctrl-C to stop.");
            }
        }

        private int Stop()
        {
            if (_cursor is not null)
            {
                _printer.Note("To resume, repeat the command with --after " + _cursor);
            }

            return ExitCodes.Success;
        }
    }
}
