using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Relay.Agent.Approvals;
using Relay.Agent.Briefings;
using Relay.Agent.Hooks;
using Relay.Agent.Link;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;

namespace Relay.Agent.Local;

/// <summary>
/// Registers the local side: session tracking, the prompt queue, approvals, briefings, launches, the broker inbound
/// handler, the hook responder and the LocalAgent service (mapped on the Unix socket by the hosting code). Needs the
/// spool, the broker link, the launcher, the hook processor, <see cref="Config.AgentConfigStore"/> and a
/// <see cref="TimeProvider"/> from the other features.
/// </summary>
internal static class LocalServiceCollectionExtensions
{
    public static IServiceCollection AddLocalAgent(this IServiceCollection services)
    {
        services.AddOptions<LocalAgentOptions>().BindConfiguration(LocalAgentOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LocalAgentOptions>, LocalAgentOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LocalStateDirectory>();
        services.TryAddSingleton<LocalAgentRuntime>();
        services.TryAddSingleton<MachineIdentity>();

        // Sessions
        services.TryAddSingleton<IProcessProbe, ProcProcessProbe>();
        services.TryAddSingleton<SessionTracker>();
        services.TryAddSingleton<ISessionTracker>(sp => sp.GetRequiredService<SessionTracker>());
        services.TryAddSingleton<SessionLiveness>();

        // Prompts, approvals, briefings
        services.TryAddSingleton<PromptStore>();
        services.TryAddSingleton<PromptQueue>();
        services.TryAddSingleton<ApprovalCoordinator>();
        services.TryAddSingleton<BriefingStore>();

        // Channels, launches, the broker's messages, hooks
        services.TryAddSingleton<ChannelRegistry>();
        services.TryAddSingleton<AttachmentNotifier>();
        services.TryAddSingleton<SessionMessages>();
        services.TryAddSingleton<SessionTools>();
        services.TryAddSingleton<ReplyLog>();
        services.TryAddSingleton<LaunchJournal>();
        services.TryAddSingleton<LaunchCoordinator>();
        services.TryAddSingleton<IBrokerInbound, BrokerInbound>();
        services.TryAddSingleton<IHookResponder, HookResponder>();
        services.TryAddSingleton<LocalAgentService>();
        services.AddHostedService<LocalAgentTimers>();
        return services;
    }
}
