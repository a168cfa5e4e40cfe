using ModelContextProtocol.Protocol;
using Relay.Protocol.V1;

namespace Relay.Channel.Tools;

/// <summary><c>list_sessions</c>: the sessions this one may reach (broker policy decides which).</summary>
internal sealed class ListSessionsTool(SessionToolCaller caller) : RelayTool(Name, Description, Schema)
{
    public const string Name = "list_sessions";

    private const string Description =
        "List the Claude Code sessions on your team that you may message through Relay: name, id, machine, directory, "
        + "status and whether each waits for input.";

    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "include_ended": { "type": "boolean", "description": "Also list sessions that have ended (default false)." },
            "machine": { "type": "string", "description": "Only sessions on this machine (name or id)." },
            "name_contains": { "type": "string", "description": "Only sessions whose name contains this text." }
          }
        }
        """;

    protected override async ValueTask<CallToolResult> InvokeAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var request = new ListSessionsToolRequest
        {
            IncludeEnded = arguments.OptionalBool("include_ended"),
            Machine = arguments.OptionalString("machine").Trim(),
            NameContains = arguments.OptionalString("name_contains").Trim(),
        };
        return await caller.CallAsync(Name, new ChannelToolCall { ListSessions = request }, static r => Text(SessionText.Sessions(r.ListSessions)), cancellationToken);
    }
}

/// <summary><c>send_message</c>: a message to another session, delivered like a prompt from a person.</summary>
internal sealed class SendMessageTool(SessionToolCaller caller) : RelayTool(Name, Description, Schema)
{
    public const string Name = "send_message";

    private const string Description =
        "Send a message to another Claude Code session through Relay (by its name or id, see list_sessions). It arrives "
        + "there as a channel event naming this session; its answer comes back to you as a channel event whose in_reply_to "
        + "is this message's id. To answer a message another session sent you, use reply instead.";

    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "to": { "type": "string", "description": "The target session's name or id." },
            "text": { "type": "string", "description": "The message." },
            "in_reply_to": { "type": "string", "description": "The prompt_id of a message this one follows up on (threads)." },
            "machine": { "type": "string", "description": "Machine name or id, when a session name exists on several machines." }
          },
          "required": ["to", "text"]
        }
        """;

    protected override async ValueTask<CallToolResult> InvokeAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var request = new SendMessageToolRequest
        {
            // The id is the prompt id on the receiving side, so a re-send after an agent restart is delivered once.
            MessageId = Guid.CreateVersion7().ToString(),
            Target = new SessionSelector { Lookup = arguments.RequiredString("to").Trim(), Machine = arguments.OptionalString("machine").Trim() },
            Text = arguments.RequiredString("text"),
            InReplyTo = arguments.OptionalString("in_reply_to").Trim(),
        };
        return await caller.CallAsync(Name, new ChannelToolCall { SendMessage = request }, static r => SessionText.MessageSent(r.SendMessage), cancellationToken);
    }
}

/// <summary><c>session_history</c>: the recent prompts and replies of a session.</summary>
internal sealed class SessionHistoryTool(SessionToolCaller caller) : RelayTool(Name, Description, Schema)
{
    public const string Name = "session_history";

    private const string Description =
        "Read the recent prompts and replies of a Relay session (this one when no session is named), oldest first.";

    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "session": { "type": "string", "description": "Session name or id; omit for this session." },
            "limit": { "type": "integer", "minimum": 1, "maximum": 200, "description": "Most entries to return (default 20)." },
            "include_hooks": { "type": "boolean", "description": "Include tool and lifecycle events too (default false)." },
            "before_cursor": { "type": "string", "description": "The older_cursor of a previous answer, for older entries." }
          }
        }
        """;

    protected override async ValueTask<CallToolResult> InvokeAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var request = new SessionHistoryToolRequest
        {
            Limit = arguments.OptionalInt("limit", 20, 1, 200),
            IncludeHooks = arguments.OptionalBool("include_hooks"),
            BeforeCursor = arguments.OptionalString("before_cursor").Trim(),
        };
        if (arguments.OptionalString("session").Trim() is { Length: > 0 } session)
        {
            request.Session = new SessionSelector { Lookup = session };
        }

        return await caller.CallAsync(Name, new ChannelToolCall { SessionHistory = request }, static r => Text(SessionText.History(r.SessionHistory)), cancellationToken);
    }
}

/// <summary><c>launch_session</c>: a new Claude Code session on a named machine, with a first prompt.</summary>
internal sealed class LaunchSessionTool(SessionToolCaller caller) : RelayTool(Name, Description, Schema)
{
    public const string Name = "launch_session";

    private const string Description =
        "Start a new Claude Code session on a machine of your team through Relay, with a first prompt sent from this "
        + "session. Its answers come back to you as channel events.";

    private const string Schema = """
        {
          "type": "object",
          "properties": {
            "machine": { "type": "string", "description": "Machine name or id." },
            "prompt": { "type": "string", "description": "The first prompt for the new session." },
            "name": { "type": "string", "description": "A name for the new session (a role such as reviewer)." },
            "cwd": { "type": "string", "description": "Working directory on that machine (default: the agent's)." }
          },
          "required": ["machine", "prompt"]
        }
        """;

    protected override async ValueTask<CallToolResult> InvokeAsync(ToolArguments arguments, CancellationToken cancellationToken)
    {
        var request = new LaunchSessionToolRequest
        {
            LaunchId = Guid.CreateVersion7().ToString(),
            Machine = arguments.RequiredString("machine").Trim(),
            Prompt = arguments.RequiredString("prompt"),
            Name = arguments.OptionalString("name").Trim(),
            Cwd = arguments.OptionalString("cwd").Trim(),
        };
        return await caller.CallAsync(Name, new ChannelToolCall { LaunchSession = request }, static r => SessionText.Launched(r.LaunchSession), cancellationToken);
    }
}
