using Relay.Agent.Approvals;
using Relay.Agent.Briefings;
using Relay.Agent.Link;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// What the agent does with the broker's messages. Sequenced ones return once their effect is on disk (a prompt or a
/// launch in its journal; a verdict handed on to what waits for it), so the link may ack them; slow work (launches,
/// stops) continues in the background. Retransmissions are dropped by id.
/// </summary>
internal sealed partial class BrokerInbound(
    SessionTracker tracker,
    SessionLiveness liveness,
    PromptQueue prompts,
    ApprovalCoordinator approvals,
    BriefingStore briefings,
    LaunchCoordinator launches,
    SessionMessages messages,
    AttachmentNotifier attachments,
    ChannelRegistry channels,
    MachineIdentity machine,
    IAgentSpool spool,
    ILogger<BrokerInbound> logger) : IBrokerInbound
{
    public async ValueTask OnWelcomeAsync(Welcome welcome, CancellationToken cancellationToken)
    {
        machine.Update(welcome.MachineId, welcome.MachineName);
        briefings.Replace(welcome.Briefings);
        var changed = tracker.ReplaceBindings(welcome.Sessions);
        // Processes that went away while the link was down are dropped first, so the snapshot lists only live ones.
        await liveness.CheckAsync(always: true, cancellationToken);
        attachments.Notify(changed);
        prompts.Dispatch();
    }

    public async ValueTask HandleSequencedAsync(BrokerMessage message, CancellationToken cancellationToken)
    {
        switch (message.BodyCase)
        {
            case BrokerMessage.BodyOneofCase.PromptDelivery:
                await prompts.EnqueueAsync(message.PromptDelivery, launchId: string.Empty, local: false, cancellationToken);
                break;
            case BrokerMessage.BodyOneofCase.PermissionVerdict:
                approvals.OnVerdict(message.PermissionVerdict);
                break;
            case BrokerMessage.BodyOneofCase.LaunchRequest:
                await launches.AcceptLaunchAsync(message.LaunchRequest, cancellationToken);
                break;
            case BrokerMessage.BodyOneofCase.StopRequest:
                await launches.AcceptStopAsync(message.StopRequest, cancellationToken);
                break;
            case BrokerMessage.BodyOneofCase.SessionMessageStatus:
                messages.OnStatus(message.SessionMessageStatus);
                break;
            default:
                Log.Ignored(logger, message.BodyCase.ToString(), message.Seq);
                break;
        }
    }

    public void HandleState(BrokerMessage message)
    {
        switch (message.BodyCase)
        {
            case BrokerMessage.BodyOneofCase.SessionBinding:
                attachments.Notify(tracker.ApplyBinding(message.SessionBinding));
                prompts.Dispatch();
                break;
            case BrokerMessage.BodyOneofCase.BriefingUpdate:
                briefings.Apply(message.BriefingUpdate);
                break;
            default:
                Log.Ignored(logger, message.BodyCase.ToString(), message.Seq);
                break;
        }
    }

    public AgentStats CollectStats() => new()
    {
        Spool = spool.Stats,
        LiveSessions = (uint)tracker.All().Count(s => !s.LaunchPending),
        AttachedChannels = (uint)channels.Count,
        QueuedPrompts = (uint)prompts.PendingCount,
        PendingApprovals = (uint)approvals.PendingCount,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = 4500, Level = LogLevel.Warning, Message = "Ignored a {Body} from the broker (seq {Seq}); this agent does not know it. Update relay-agent.")]
        public static partial void Ignored(ILogger logger, string body, ulong seq);
    }
}
