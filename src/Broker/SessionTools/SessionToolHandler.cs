using Relay.Broker.Access;
using Relay.Broker.AgentLink;
using Relay.Broker.Launches;
using Relay.Broker.Policy;
using Relay.Broker.Queries.History;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Queries.Sessions;
using Relay.Broker.Sessions;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.SessionTools;

/// <summary>
/// Answers relay-channel's session tools forwarded by an agent (AgentLink ToolCall) for one of its sessions:
/// list_sessions and session_history show what the messaging policy lets that session VIEW; launch_session launches
/// with the session as the requester, so the policy's LAUNCH rules apply (by default sessions may not launch). The
/// same queries and launcher serve Admin; their statuses become the ToolError codes of common.proto.
/// </summary>
internal sealed class SessionToolHandler(
    SessionSelectorResolver resolver,
    SessionListQuery sessions,
    HistoryQuery history,
    Launcher launcher,
    PolicyEvaluator policy) : IAgentToolHandler
{
    /// <summary>Most sessions list_sessions returns.</summary>
    public const int MaxListed = 100;

    /// <summary>Most sessions list_sessions looks at to find them (pages of the Admin list query).</summary>
    private const int MaxScanned = 2000;

    private const int ScanPageSize = 200;

    /// <summary>session_history's default and largest page.</summary>
    private const int DefaultHistory = 20;

    private const int MaxHistory = 100;

    private static readonly EventKind[] Conversation = [EventKind.PromptCreated, EventKind.Reply];

    private static readonly EventKind[] ConversationAndHooks = [EventKind.PromptCreated, EventKind.Reply, EventKind.Hook];

    public async Task<ToolResult> HandleAsync(MachineIdentity machine, ToolCall call, CancellationToken cancellationToken)
    {
        try
        {
            var caller = await CallerAsync(machine, call.Caller, cancellationToken);
            return call.CallCase switch
            {
                ToolCall.CallOneofCase.ListSessions => new ToolResult { ListSessions = await ListAsync(caller, call.ListSessions, cancellationToken) },
                ToolCall.CallOneofCase.SessionHistory => new ToolResult { SessionHistory = await HistoryAsync(caller, call.SessionHistory, cancellationToken) },
                ToolCall.CallOneofCase.LaunchSession => new ToolResult { LaunchSession = await LaunchAsync(caller.Caller, call.LaunchSession, cancellationToken) },
                _ => Error(ErrorCode.InvalidArgument, "The tool call names no tool (list_sessions, session_history or launch_session)."),
            };
        }
        catch (MessageRejectedException ex)
        {
            return Error(ex.Code, ex.Message);
        }
        catch (RpcException ex) when (ex.StatusCode is not (StatusCode.Internal or StatusCode.Unknown or StatusCode.Cancelled))
        {
            return Error(Code(ex.StatusCode), ex.Status.Detail);
        }
    }

    /// <summary>The calling session, which must be a session of the machine whose stream carried the call.</summary>
    private async Task<(Caller Caller, SessionRow Session)> CallerAsync(MachineIdentity machine, SessionEvidence? evidence, CancellationToken cancellationToken)
    {
        var read = Evidence.Read(evidence, "tool_call.caller");
        var selector = read.SessionId is { } id ? new SessionSelector { SessionId = id.ToString("D") }
            : read.ClaudeSessionId is { } claudeId ? new SessionSelector { ClaudeSessionId = claudeId.ToString("D") }
            : evidence?.LaunchId is { Length: > 0 } launchId ? new SessionSelector { LaunchId = launchId }
            : throw new MessageRejectedException(ErrorCode.InvalidArgument, "tool_call.caller names no Relay session, Claude session id or launch id.");
        var session = await ResolveAsync(selector, "tool_call.caller", cancellationToken);
        if (session.MachineId != machine.Id)
        {
            throw new MessageRejectedException(ErrorCode.PermissionDenied, "tool_call.caller is a session of another machine; an agent speaks only for its own sessions.");
        }

        return (Caller.ForSession(session.Id, session.Name, machine.Id, machine.Name), session);
    }

    /// <summary>The session a selector names; several matches are ERROR_CODE_AMBIGUOUS for a tool (FAILED_PRECONDITION on Admin).</summary>
    private async Task<SessionRow> ResolveAsync(SessionSelector selector, string field, CancellationToken cancellationToken)
    {
        try
        {
            return await resolver.ResolveAsync(selector, field, cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
        {
            throw new MessageRejectedException(ErrorCode.Ambiguous, ex.Status.Detail);
        }
    }

    private async Task<ListSessionsToolResponse> ListAsync((Caller Caller, SessionRow Session) caller, ListSessionsToolRequest request, CancellationToken cancellationToken)
    {
        var response = new ListSessionsToolResponse();
        var query = new ListSessionsRequest { Machine = request.Machine, IncludeEnded = request.IncludeEnded, Text = request.NameContains, PageSize = ScanPageSize };
        for (var scanned = 0; scanned < MaxScanned;)
        {
            var page = await sessions.ListAsync(query, cancellationToken);
            foreach (var session in page.Sessions)
            {
                scanned++;
                if ((request.NameContains.Length > 0 && !session.Name.Contains(request.NameContains, StringComparison.OrdinalIgnoreCase))
                    || !(await policy.MayViewAsync(caller.Caller, Target(session), cancellationToken)).Allowed)
                {
                    continue;
                }

                if (response.Sessions.Count == MaxListed)
                {
                    response.Truncated = true;
                    return response;
                }

                response.Sessions.Add(session);
            }

            if (page.NextPageToken.Length == 0)
            {
                return response;
            }

            query.PageToken = page.NextPageToken;
        }

        response.Truncated = true;
        return response;
    }

    private async Task<SessionHistoryToolResponse> HistoryAsync((Caller Caller, SessionRow Session) caller, SessionHistoryToolRequest request, CancellationToken cancellationToken)
    {
        var target = request.Session is null || request.Session.ByCase == SessionSelector.ByOneofCase.None
            ? caller.Session
            : await ResolveAsync(request.Session, "session", cancellationToken);
        var session = SessionMapper.ToProto(target);
        var decision = await policy.MayViewAsync(caller.Caller, Target(session), cancellationToken);
        decision.ThrowIfDenied();

        var limit = request.Limit <= 0 ? DefaultHistory : Math.Min(request.Limit, MaxHistory);
        var page = await history.GetAsync(new GetSessionHistoryRequest
        {
            Session = new SessionSelector { SessionId = target.Id.ToString("D") },
            Kinds = { request.IncludeHooks ? ConversationAndHooks : Conversation },
            BeforeCursor = request.BeforeCursor,
            NewestFirst = true,
            OmitRawJson = true,
            PageSize = limit,
        }, cancellationToken);

        // Newest first from the query, oldest first for the tool; the oldest shown is where an older page ends.
        var response = new SessionHistoryToolResponse { Session = session };
        response.Events.AddRange(page.Events.Reverse());
        if (page.NextPageToken.Length > 0 && response.Events.Count > 0)
        {
            response.OlderCursor = response.Events[0].Cursor;
        }

        return response;
    }

    private async Task<LaunchSessionToolResponse> LaunchAsync(Caller caller, LaunchSessionToolRequest request, CancellationToken cancellationToken)
    {
        var launched = await launcher.LaunchAsync(caller, new LaunchSessionRequest
        {
            LaunchId = request.LaunchId,
            Machine = request.Machine,
            Cwd = request.Cwd,
            Name = request.Name,
            Prompt = request.Prompt,
        }, cancellationToken);
        return new LaunchSessionToolResponse { Launch = launched.Launch };
    }

    private static PolicyTargetInfo Target(Session session) => new()
    {
        MachineId = Guid.TryParse(session.MachineId, out var machineId) ? machineId : null,
        MachineName = session.MachineName.Length == 0 ? null : session.MachineName,
        SessionName = session.Name.Length == 0 ? null : session.Name,
        Directory = session.Cwd.Length == 0 ? null : session.Cwd,
    };

    private static ErrorCode Code(StatusCode status) => status switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange or StatusCode.AlreadyExists or StatusCode.FailedPrecondition => ErrorCode.InvalidArgument,
        StatusCode.NotFound => ErrorCode.NotFound,
        StatusCode.PermissionDenied or StatusCode.Unauthenticated => ErrorCode.PermissionDenied,
        StatusCode.ResourceExhausted => ErrorCode.ResourceExhausted,
        StatusCode.DeadlineExceeded => ErrorCode.Timeout,
        StatusCode.Unavailable or StatusCode.Aborted => ErrorCode.Unavailable,
        _ => ErrorCode.Internal,
    };

    private static ToolResult Error(ErrorCode code, string message) => new() { Error = new ToolError { Code = code, Message = message } };
}
