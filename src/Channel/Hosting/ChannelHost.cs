using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;

namespace Relay.Channel.Hosting;

/// <summary>Builds and runs relay-channel: an MCP server on stdin/stdout, logging to stderr only.</summary>
internal static class ChannelHost
{
    /// <summary>Runs until stdin closes, Claude Code goes away or the process is signalled; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        // The empty builder skips appsettings files, user secrets and default logging providers: a binary Claude Code
        // starts takes its settings from the environment, and every millisecond here delays Claude Code's handshake.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { Args = args });
        builder.Configuration.AddEnvironmentVariables();
        ConfigureLogging(builder.Logging);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3));
        builder.Services.AddRelayChannel().WithStdioServerTransport();

        using var host = builder.Build();
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
