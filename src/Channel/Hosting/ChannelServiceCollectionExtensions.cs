using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelContextProtocol.Server;
using Relay.Channel.Agent;
using Relay.Channel.Lifetime;
using Relay.Channel.Mcp;
using Relay.Channel.Prompts;
using Relay.Channel.Tools;

namespace Relay.Channel.Hosting;

internal static class ChannelServiceCollectionExtensions
{
    /// <summary>
    /// Everything but the transport: options, the session identity, the agent connection, the prompt pusher, the MCP
    /// server's handshake and tools, and the parent-process watch. Add <c>WithStdioServerTransport()</c> (or a stream
    /// transport in tests) to the returned builder.
    /// </summary>
    public static IMcpServerBuilder AddRelayChannel(this IServiceCollection services)
    {
        services.AddOptions<RelayChannelOptions>().BindConfiguration(RelayChannelOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RelayChannelOptions>, RelayChannelOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IParentProcess, ProcParentProcess>();
        services.TryAddSingleton(sp => ChannelIdentity.FromProcess(parent: sp.GetRequiredService<IParentProcess>()));

        services.AddSingleton<AgentAttach>();
        services.AddSingleton<AgentConnection>();
        services.AddHostedService(sp => sp.GetRequiredService<AgentConnection>());
        services.AddSingleton<PromptInbox>();
        services.AddHostedService<PromptPusher>();
        services.AddHostedService<ParentWatch>();

        services.AddSingleton<ClaudeNotifications>();
        services.AddSingleton<McpHandshake>();
        services.AddSingleton<PermissionRelay>();
        services.AddSingleton<SessionToolCaller>();
        services.AddSingleton<IConfigureOptions<McpServerOptions>, ChannelServerSetup>();
        services.AddSingleton<McpServerTool, ReplyTool>();
        services.AddSingleton<McpServerTool, ListSessionsTool>();
        services.AddSingleton<McpServerTool, SendMessageTool>();
        services.AddSingleton<McpServerTool, SessionHistoryTool>();
        services.AddSingleton<McpServerTool, LaunchSessionTool>();
        return services.AddMcpServer();
    }
}
