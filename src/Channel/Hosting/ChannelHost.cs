using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using Relay.Channel.Agent;
using Relay.Channel.Lifetime;

namespace Relay.Channel.Hosting;

/// <summary>Builds and runs relay-channel: an MCP server on stdin/stdout, logging to stderr only.</summary>
internal static class ChannelHost
{
    /// <summary>Runs until stdin closes, Claude Code goes away or the process is signalled; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            // No appsettings.json next to a binary Claude Code starts; configuration comes from the environment.
            DisableDefaults = true,
        });
        builder.Configuration.AddEnvironmentVariables();
        ConfigureLogging(builder.Logging);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        builder.Services.AddRelayChannel().WithStdioServerTransport();

        using var host = builder.Build();
        var identity = host.Services.GetRequiredService<ChannelIdentity>();
        var socketPath = host.Services.GetRequiredService<AgentConnection>().SocketPath;
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Relay.Channel");
        LifetimeLog.Starting(logger, identity.Version, identity.ClaudeSessionId, identity.ClaudePid, socketPath);
        await host.RunAsync();
        return 0;
    }

    // stdout carries MCP and nothing else: every log line goes to stderr. Level: Information for the channel,
    // Warning for libraries; Logging__LogLevel__Default=Debug (environment) shows more.
    private static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Warning);
        logging.AddFilter("Relay", LogLevel.Information);
        logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    }
}
