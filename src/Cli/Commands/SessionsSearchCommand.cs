using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using Relay.Cli.Internal;
using Relay.Protocol.V1;

namespace Relay.Cli.Commands;

/// <summary><c>relayctl sessions search &lt;query&gt;</c>: full-text search over prompts and replies.</summary>
internal static class SessionsSearchCommand
{
    public static RelayCommand Create(CliContext context)
    {
        var query = new Argument<string>("query") { Description = "Words, \"quoted phrases\", 'or', and -excluded words (web-search syntax)." };
        var session = new Option<string?>("--session") { Description = "Only within this session (id, Claude session id, launch id or name).", HelpName = "session" };
        var machine = new Option<string?>("--machine") { Description = "Only sessions on this machine (id or name).", HelpName = "machine" };
        var kinds = Events.KindOption("Only prompts or only replies: prompt-created or reply (default both).", ["prompt-created", "reply"]);
        var since = BrokerAction.DurationOption("--since", "Only entries from this long ago, e.g. 1h or 7d.");
        var limit = BrokerAction.PageSizeOption();
        var pageToken = BrokerAction.PageTokenOption();
        var command = new RelayCommand("search",
            "Search every prompt and reply, best match first; matched words are shown «like this».",
            "relayctl sessions search \"flaky test\"",
            "relayctl sessions search deploy -staging --machine build-box-3 --since 7d",
            "relayctl sessions search timeout --kind reply --json | jq -r '.hits[].session.session_id'")
        {
            query, session, machine, kinds, since, limit, pageToken,
        };
        command.SetBrokerAction(context, async (call, cancellationToken) =>
        {
            var request = new SearchSessionsRequest
            {
                Query = call.ParseResult.GetRequiredValue(query),
                Machine = call.ParseResult.GetValue(machine) ?? string.Empty,
                Kinds = { Events.Parse(call.ParseResult.GetValue(kinds)) },
                PageSize = call.ParseResult.GetValue(limit),
                PageToken = call.ParseResult.GetValue(pageToken) ?? string.Empty,
            };
            if (call.ParseResult.GetValue(session) is { } reference)
            {
                request.Session = BrokerAction.Selector(reference, null);
            }

            if (call.ParseResult.GetValue(since) is { } ago)
            {
                request.Since = Timestamp.FromDateTimeOffset(context.Time.GetUtcNow() - ago);
            }

            var response = await call.Admin.SearchSessionsAsync(request, BrokerConnection.Call(cancellationToken));
            if (call.Printer.Json)
            {
                call.Printer.Message(response);
                return ExitCodes.Success;
            }

            call.Printer.Table(
                ["AT", "SESSION", "NAME", "KIND", "MATCH"],
                response.Hits.Select(h => (IReadOnlyList<string>)
                [
                    Show.Time(h.Event?.OccurredAt), h.Session?.SessionId ?? "-", Show.Text(h.Session?.Name), Show.Enum(h.Event?.Kind ?? EventKind.Unspecified),
                    Show.Excerpt(h.Snippet, 80),
                ]));
            call.Printer.NextPage(response.NextPageToken);
            return ExitCodes.Success;
        });
        return command;
    }
}
