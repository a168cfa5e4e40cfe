using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;

namespace Relay.Broker.Sessions;

internal sealed partial class SessionReconciler
{
    /// <summary>Attributes a hook event to its session, moves the session's status, and logs the event.</summary>
    public async Task<RelaySession> ApplyHookAsync(IngestContext context, HookEvent hook, CancellationToken cancellationToken)
    {
        var eventId = Evidence.RequiredClientId("event", hook.EventId, "hook_event.event_id");
        var name = Evidence.Bounded(hook.HookEventName, Limits.HookEventName, "hook_event.hook_event_name");
        if (name.Length == 0)
        {
            throw new MessageRejectedException(ErrorCode.InvalidArgument, "hook_event.hook_event_name must not be empty.");
        }

        var fields = hook.Fields ?? new HookFields();
        var toolName = fields.ToolName.Length == 0 ? null : Evidence.Bounded(fields.ToolName, Limits.ToolName, "hook_event.fields.tool_name");
        var evidence = Evidence.Read(hook.Session, "hook_event.session");
        var isStart = name == "SessionStart";
        var hint = new Hint(
            StartSource: isStart ? SessionStatusRules.ToSegmentSource(fields.StartSource) ?? SegmentSource.Startup : null,
            Reopens: name != "SessionEnd",
            TranscriptPath: fields.TranscriptPath);
        var session = await ResolveAsync(context, evidence, hint, cancellationToken);
        var at = hook.OccurredAt?.ToDateTimeOffset() ?? context.Now;

        if (fields.PermissionMode.Length is > 0 and <= Limits.EnumText && session.PermissionMode != fields.PermissionMode)
        {
            session.PermissionMode = fields.PermissionMode;
        }

        if (isStart && fields.Model.Length is > 0 and <= Limits.Name)
        {
            session.Model = fields.Model;
        }

        if (name == "SessionEnd")
        {
            Touch(context, session, at);
            if (SessionStatusRules.EndsSession(fields.EndReason))
            {
                await EndAsync(context, session, SessionEndReasons.Exited, at, cancellationToken);
            }
            else if (fields.EndReason == "clear")
            {
                context.Cache.AwaitClear(session.Cwd, session.Id);
            }
        }
        else if (SessionStatusRules.AfterHook(name, fields, session.Status) is { } status)
        {
            SetStatus(context, session, status, at);
        }
        else
        {
            Touch(context, session, at);
        }

        // The stored event names the session it was attributed to, so history can show it without a join.
        var stored = hook.Clone();
        stored.Session ??= new SessionEvidence();
        stored.Session.SessionId = session.Id.ToString("D");
        context.AddEvent(EventKind.Hook, eventId, session.Id, at, stored, evidence.ClaudeSessionId, name, toolName);
        return session;
    }
}
