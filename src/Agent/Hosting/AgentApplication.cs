using Microsoft.Extensions.Options;
using Relay.Agent.Config;
using Relay.Agent.Hooks;
using Relay.Grpc;

namespace Relay.Agent.Hosting;

/// <summary>Builds the daemon (<c>relay-agent run</c>): configuration, the local listeners, the features and the routes.</summary>
internal static class AgentApplication
{
    /// <summary>The prefix of the agent's environment variables: <c>RELAY_AGENT__HOOKS__ANSWERTIMEOUT</c>.</summary>
    public const string EnvironmentPrefix = "RELAY_";

    /// <summary>
    /// Builds the daemon. <paramref name="settings"/> are configuration keys from the command line (or a test), applied
    /// over appsettings.json and <c>RELAY_</c> environment variables; <paramref name="configure"/> may replace services
    /// (tests put fakes in place of the spool, the link and the local side). Claims the socket path before returning.
    /// </summary>
    /// <exception cref="AgentStartupException">The socket path is not usable or another daemon holds it.</exception>
    /// <exception cref="AgentConfigException">agent.json cannot be read or written.</exception>
    /// <exception cref="OptionsValidationException">The configuration is invalid.</exception>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json is read from beside the binary, not from wherever the daemon was started: the content root is
        // also watched for changes, and a working directory such as a home or a repository is a tree of thousands of
        // directories (inotify watches on all of them at start).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(settings);

        builder.Services.AddOptions<AgentHostOptions>()
            .BindConfiguration(AgentHostOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var hostOptions = builder.Configuration.GetSection(AgentHostOptions.SectionName).Get<AgentHostOptions>() ?? new AgentHostOptions();

        // Kestrel's endpoints are read before the options validators run: check here too, with the same words.
        var validation = new System.ComponentModel.DataAnnotations.ValidationContext(hostOptions);
        var failures = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(hostOptions, validation, failures, validateAllProperties: true))
        {
            throw new OptionsValidationException(AgentHostOptions.SectionName, typeof(AgentHostOptions), failures.Select(f => f.ErrorMessage ?? "invalid"));
        }

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = hostOptions.ShutdownTimeout);
        builder.Services.AddGrpcServer(o => o.MaxReceiveMessageSize = 4 * 1024 * 1024);
        builder.Services.AddAgentFeatures();
        builder.Services.AddAgentObservability(builder.Configuration);

        // Every hook and every channel call is an HTTP request: ASP.NET Core's per-request lines would bury the agent's
        // own messages. Failures surface in the agent's own logs.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        configure?.Invoke(builder);

        var socket = LocalSocket.Claim(hostOptions.EffectiveSocketPath);
        try
        {
            builder.Services.AddSingleton(_ => socket);
            builder.Services.AddSingleton<LocalEndpoints>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<LocalEndpoints>());
            // Kestrel may read its options while the app is being built, before the code below runs: the hook port is
            // therefore taken here, from the same sources (configuration, else agent.json).
            // Kestrel hands a request from the socket to the app, and the app's answer back to the socket, through its I/O
            // queues: two thread-pool hops per http hook, a fifth of its CPU in thread wake-ups on a 2-core machine. Inline,
            // a request runs on the thread that completed its socket read (a pool thread, not the epoll thread: socket
            // completions stay dispatched) and the answer is sent by the thread that writes it (docs/agent.md, "CPU per hook").
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
            builder.WebHost.ConfigureKestrel((_, kestrel) =>
            {
                var endpoints = kestrel.ApplicationServices.GetRequiredService<LocalEndpoints>();
                endpoints.ConfiguredHookPort = hostOptions.HookPort ?? kestrel.ApplicationServices.GetRequiredService<AgentConfigStore>().EnsureHookSecret().HookPort;
                endpoints.Listen(kestrel);
            });

            var app = builder.Build();

            // Resolved now so that the container owns (and on dispose releases) the socket claim.
            app.Services.GetRequiredService<LocalSocket>();
            var config = app.Services.GetRequiredService<AgentConfigStore>().EnsureHookSecret();
            app.Services.GetRequiredService<HookSecret>().Set(config.HookSecret!);
            app.Services.GetRequiredService<LocalEndpoints>().ConfiguredHookPort = hostOptions.HookPort ?? config.HookPort;

            app.MapHookEndpoint();
            foreach (var service in app.Services.GetServices<LocalGrpcService>())
            {
                service.Map(app);
            }

            return app;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
