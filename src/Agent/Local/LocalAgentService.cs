using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Approvals;
using Relay.Agent.Config;
using Relay.Agent.Hooks;
using Relay.Agent.Link;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Grpc;
using Relay.Protocol.Local;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// LocalAgent on the agent's Unix socket (local_agent.proto): one Attach stream per relay-channel, the command-hook
/// call (delegated to the hook processor), local launches and status. Mapped by the hosting code with
/// <c>MapGrpcService&lt;LocalAgentService&gt;()</c>.
/// </summary>
internal sealed partial class LocalAgentService(
    SessionTracker tracker,
    ChannelRegistry channels,
    PromptQueue prompts,
    ApprovalCoordinator approvals,
    SessionTools tools,
    ReplyLog replies,
    AttachmentNotifier attachments,
    LaunchCoordinator launches,
    IHookProcessor hooks,
    IAgentSpool spool,
    IBrokerLink link,
    AgentConfigStore config,
    MachineIdentity machine,
    LocalAgentRuntime runtime,
    TimeProvider time,
    IOptions<LocalAgentOptions> options,
    ILogger<LocalAgentService> logger) : LocalAgent.LocalAgentBase
{
    private LocalAgentOptions Options => options.Value;

    /// <inheritdoc />
    public override async Task<HookResponse> Hook(HookRequest request, ServerCallContext context) =>
        await hooks.ProcessCommandHookAsync(request, context.CancellationToken);

    /// <inheritdoc />
    public override Task<LaunchResult> Launch(LocalLaunchRequest request, ServerCallContext context) =>
        launches.LaunchLocalAsync(request, context.CancellationToken);

    /// <inheritdoc />
    public override Task<AgentStatusResponse> GetStatus(AgentStatusRequest request, ServerCallContext context)
    {
        AgentConfig settings;
        try
        {
            settings = config.Load();
        }
        catch (AgentConfigException)
        {
            settings = new AgentConfig();
        }

        var response = new AgentStatusResponse
        {
            AgentVersion = Hosting.AgentCommandLine.Version,
            StartedAt = Timestamp.FromDateTimeOffset(runtime.StartedAt),
            MachineId = machine.Id,
            MachineName = machine.Name,
            BrokerAddress = settings.BrokerAddress ?? string.Empty,
            Link = link.State,
            Spool = spool.Stats,
            Sessions = { tracker.Snapshot() },
            HookUrl = settings.HookUrl,
            SocketPath = Options.SocketPath.Length > 0 ? Options.SocketPath : LocalAgentPaths.Socket(),
        };
        return Task.FromResult(response);
    }
}

/// <summary>Facts about this agent process.</summary>
internal sealed class LocalAgentRuntime(TimeProvider time)
{
    public DateTimeOffset StartedAt { get; } = time.GetUtcNow();
}
