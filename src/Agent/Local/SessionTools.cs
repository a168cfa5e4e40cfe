using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Link;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// The channel's session tools. Queries and launches (list_sessions, session_history, launch_session) go to the broker
/// as ToolCalls with a bound; send_message is spooled as a SessionMessage (so it survives an outage) and waits briefly
/// for the broker's verdict. Every failure becomes a ToolError whose message Claude can act on.
/// </summary>
internal sealed class SessionTools(
    IBrokerLink link,
    IAgentSpool spool,
    SessionMessages messages,
    TimeProvider time,
    IOptions<LocalAgentOptions> options)
{
    public async Task<ChannelToolResult> CallAsync(SessionView session, ChannelToolCall call, CancellationToken cancellationToken)
    {
        var result = new ChannelToolResult { RequestId = call.RequestId };
        try
        {
            switch (call.CallCase)
            {
                case ChannelToolCall.CallOneofCase.SendMessage:
                    result.SendMessage = await SendMessageAsync(session, call.SendMessage, cancellationToken);
                    break;
                case ChannelToolCall.CallOneofCase.ListSessions:
                    result.ListSessions = (await QueryAsync(new ToolCall { Caller = session.Evidence(), ListSessions = call.ListSessions }, ToolResult.ResultOneofCase.ListSessions, cancellationToken)).ListSessions;
                    break;
                case ChannelToolCall.CallOneofCase.SessionHistory:
                    result.SessionHistory = (await QueryAsync(new ToolCall { Caller = session.Evidence(), SessionHistory = call.SessionHistory }, ToolResult.ResultOneofCase.SessionHistory, cancellationToken)).SessionHistory;
                    break;
                case ChannelToolCall.CallOneofCase.LaunchSession:
                    if (!ClientIds.IsValid(call.LaunchSession.LaunchId))
                    {
                        throw new ToolFailure(ErrorCode.InvalidArgument, "launch_session needs a launch_id of 1 to 128 characters of [A-Za-z0-9._:-].");
                    }

                    result.LaunchSession = (await QueryAsync(new ToolCall { Caller = session.Evidence(), LaunchSession = call.LaunchSession }, ToolResult.ResultOneofCase.LaunchSession, cancellationToken)).LaunchSession;
                    break;
                default:
                    throw new ToolFailure(ErrorCode.InvalidArgument, "The tool call names no tool this agent knows; update relay-agent or relay-channel so their versions match.");
            }
        }
        catch (ToolFailure failure)
        {
            result.Error = new ToolError { Code = failure.Code, Message = failure.Message };
        }

        return result;
    }

    private async Task<SendMessageToolResponse> SendMessageAsync(SessionView session, SendMessageToolRequest request, CancellationToken cancellationToken)
    {
        if (!ClientIds.IsValid(request.MessageId))
        {
            throw new ToolFailure(ErrorCode.InvalidArgument, "send_message needs a message_id of 1 to 128 characters of [A-Za-z0-9._:-].");
        }

        if (request.Target is null || request.Target.ByCase == SessionSelector.ByOneofCase.None)
        {
            throw new ToolFailure(ErrorCode.InvalidArgument, "send_message needs a target session (a name, a session id or a Claude session id).");
        }

        if (request.Text.Length == 0)
        {
            throw new ToolFailure(ErrorCode.InvalidArgument, "send_message needs a non-empty text.");
        }

        if (request.Text.Length > options.Value.MaxTextChars)
        {
            throw new ToolFailure(ErrorCode.ResourceExhausted,
                $"The message is {request.Text.Length} characters; at most {options.Value.MaxTextChars} are accepted. Send a shorter message or split it.");
        }

        var waiter = messages.Expect(request.MessageId);
        if (messages.Register(request.MessageId, session.Id))
        {
            await spool.AppendAsync(new AgentMessage
            {
                SessionMessage = new SessionMessage
                {
                    MessageId = request.MessageId,
                    Sender = session.Evidence(),
                    Target = request.Target,
                    Text = request.Text,
                    InReplyTo = request.InReplyTo,
                    ExpiresIn = request.ExpiresIn,
                    CreatedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
                },
            }, cancellationToken);
        }

        var status = await messages.WaitAsync(request.MessageId, waiter, options.Value.SendMessageStatusWait, time, cancellationToken);
        return status is null
            ? new SendMessageToolResponse { MessageId = request.MessageId, QueuedLocally = true }
            : new SendMessageToolResponse { MessageId = request.MessageId, Status = status };
    }

    private async Task<ToolResult> QueryAsync(ToolCall call, ToolResult.ResultOneofCase expected, CancellationToken cancellationToken)
    {
        if (!link.IsConnected)
        {
            throw Unavailable();
        }

        ToolResult answer;
        try
        {
            answer = await link.CallToolAsync(call, options.Value.ToolCallTimeout, cancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable)
        {
            throw Unavailable();
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded)
        {
            throw new ToolFailure(ErrorCode.Timeout, $"The broker did not answer within {options.Value.ToolCallTimeout.TotalSeconds} s; try again later.");
        }
        catch (RpcException ex)
        {
            throw new ToolFailure(ErrorCode.Internal, "The broker call failed: " + ex.Status.Detail);
        }

        if (answer.ResultCase == ToolResult.ResultOneofCase.Error)
        {
            throw new ToolFailure(answer.Error.Code, answer.Error.Message);
        }

        return answer.ResultCase == expected
            ? answer
            : throw new ToolFailure(ErrorCode.Internal, $"The broker answered {answer.ResultCase} to a {expected} call.");
    }

    private static ToolFailure Unavailable() => new(ErrorCode.Unavailable,
        "The Relay agent on this machine is not connected to the broker right now, so session tools cannot be used; replies still work and are sent when the link is back.");

    private sealed class ToolFailure(ErrorCode code, string message) : Exception(message)
    {
        public ErrorCode Code { get; } = code;
    }
}
