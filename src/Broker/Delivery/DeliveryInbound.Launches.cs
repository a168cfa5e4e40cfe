using Relay.Broker.Persistence;
using Relay.Broker.Persistence.Entities;
using Relay.Broker.Sessions;
using Relay.Broker.Signals;
using Relay.Protocol.V1;
using EventKind = Relay.Broker.Persistence.Entities.EventKind;
using Launch = Relay.Broker.Persistence.Entities.Launch;
using LaunchStatus = Relay.Broker.Persistence.Entities.LaunchStatus;
using PromptStatus = Relay.Broker.Persistence.Entities.PromptStatus;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Delivery;

internal sealed partial class DeliveryInbound
{
    /// <summary>The agent started Claude for a launch (or could not); a local `relay-agent launch` becomes a launch row here.</summary>
    public async Task ApplyLaunchResultAsync(IngestContext context, LaunchResult result, CancellationToken cancellationToken)
    {
        var launchId = Evidence.RequiredClientId("launch", result.LaunchId, "launch_result.launch_id");
        var evidence = Evidence.Read(result.Session, "launch_result.session");
        var at = result.At?.ToDateTimeOffset() ?? context.Now;
        var launch = await context.Db.Launches.FindAsync([launchId], cancellationToken);
        if (launch is null)
        {
            if (!result.Local)
            {
                throw new MessageRejectedException(ErrorCode.NotFound, $"launch_result.launch_id {result.LaunchId} is not a launch the broker requested.");
            }

            launch = new Launch
            {
                Id = launchId,
                MachineId = context.Machine.Id,
                Cwd = evidence.Cwd,
                Name = result.Name.Length is > 0 and <= Limits.Name ? result.Name : null,
                ClaudeArgs = [.. result.ClaudeArgs],
                Status = LaunchStatus.Requested,
                RequestedBy = "machine:" + context.Machine.Id.ToString("D"),
                CreatedAt = at,
                Local = true,
            };
            context.Db.Launches.Add(launch);
        }
        else if (launch.MachineId != context.Machine.Id)
        {
            throw new MessageRejectedException(ErrorCode.PermissionDenied, "launch_result.launch_id is a launch of another machine.");
        }

        if (launch.Status is LaunchStatus.Started or LaunchStatus.Failed or LaunchStatus.Stopped)
        {
            return; // Reported before.
        }

        RelaySession? session;
        if (result.Started)
        {
            launch.Status = LaunchStatus.Started;
            launch.StartedAt = at;
            launch.ClaudeSessionId = evidence.ClaudeSessionId;
            launch.ClaudePid = evidence.ClaudePid;
            launch.TmuxTarget = result.TmuxTarget.Length is > 0 and <= Limits.Actor ? result.TmuxTarget : null;
            launch.Result = launch.TmuxTarget;

            // The launch is evidence of the process: it joins (or creates) the session reserved for it.
            var withLaunch = evidence with { LaunchId = launchId, SessionId = evidence.SessionId ?? launch.RelaySessionId };
            session = await sessions.ResolveAsync(context, withLaunch, new SessionReconciler.Hint(StartSource: SegmentSource.Startup), cancellationToken);
            launch.RelaySessionId = session.Id;
            if (string.IsNullOrEmpty(session.Name) && (launch.Name ?? (result.Name.Length is > 0 and <= Limits.Name ? result.Name : null)) is { } name)
            {
                session.Name = name;
                context.BindingChanged(session);
            }

            session.TmuxTarget = launch.TmuxTarget ?? session.TmuxTarget;
            if (session.Status == SessionStatus.Starting)
            {
                SessionReconciler.SetStatus(context, session, SessionStatus.Idle, at);
            }
        }
        else
        {
            launch.Status = LaunchStatus.Failed;
            launch.FinishedAt = at;
            launch.Result = Evidence.Truncate(result.Error.Length > 0 ? result.Error : "The agent could not start Claude.", Limits.Reason);
            session = launch.RelaySessionId is { } reserved ? await context.Db.Sessions.FindAsync([reserved], cancellationToken) : null;
            if (session is not null && session.MachineId == context.Machine.Id)
            {
                await sessions.EndAsync(context, session, SessionEndReasons.LaunchFailed, at, cancellationToken);
            }

            if (launch.InitialPromptId is { } promptId && await context.Db.Prompts.FindAsync([promptId], cancellationToken) is { } prompt
                && prompt.Status is PromptStatus.Queued or PromptStatus.Sent)
            {
                prompt.Status = PromptStatus.Failed;
                prompt.FailedAt = at;
                prompt.FailureReason = Evidence.Truncate("The launch failed: " + launch.Result, Limits.Reason);
                context.Publish(BrokerSignals.Prompt(prompt.Id.ToString("D")));
            }
        }

        context.Publish(BrokerSignals.Launch(launchId.ToString("D")));
        context.AddEvent(EventKind.LaunchResult, context.DerivedEventId($"launch_result/{launchId:N}"), launch.RelaySessionId, at,
            DeliveryProtos.ToLaunch(launch, context.Machine.Name));
    }

    /// <summary>The agent's answer to a stop request; a stopped process ends its session (STOPPED).</summary>
    public async Task ApplyStopResultAsync(IngestContext context, StopResult result, CancellationToken cancellationToken)
    {
        var stopId = Evidence.RequiredClientId("stop", result.StopId, "stop_result.stop_id");
        var stop = await context.Db.StopRequests.FindAsync([stopId], cancellationToken)
            ?? throw new MessageRejectedException(ErrorCode.NotFound, $"stop_result.stop_id {result.StopId} is not a stop request the broker sent.");
        if (stop.MachineId != context.Machine.Id)
        {
            throw new MessageRejectedException(ErrorCode.PermissionDenied, "stop_result.stop_id is a stop request of another machine.");
        }

        if (stop.FinishedAt is not null)
        {
            return;
        }

        var at = result.At?.ToDateTimeOffset() ?? context.Now;
        stop.FinishedAt = at;
        stop.Stopped = result.Stopped;
        stop.Error = result.Error.Length == 0 ? null : Evidence.Truncate(result.Error, Limits.Reason);
        var session = await OwnSessionAsync(context, stop.RelaySessionId, "stop_result.stop_id", cancellationToken);
        if (result.Stopped)
        {
            await sessions.EndAsync(context, session, SessionEndReasons.Stopped, at, cancellationToken);
        }

        // StopSession waiters listen on the launch topic of the stop id (ids are UUIDs: no clash with launches).
        context.Publish(BrokerSignals.Launch(stopId.ToString("D")));
        context.AddEvent(EventKind.StopResult, context.DerivedEventId($"stop_result/{stopId:N}"), session.Id, at, result);
    }
}
