using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Relay.Broker.Admin;
using Relay.Broker.AgentLink;
using Relay.Broker.Observability;
using Relay.Broker.Persistence;
using Relay.Broker.Signals;
using Relay.Grpc;

namespace Relay.Broker.Hosting;

/// <summary>Builds the broker's web application: configuration, Kestrel endpoints, services and routes.</summary>
internal static class BrokerApplication
{
    /// <summary>The prefix of the broker's environment variables: <c>RELAY_DATABASE__CONNECTIONSTRING</c>, <c>RELAY_BROKER__LISTEN__0</c>.</summary>
    public const string EnvironmentPrefix = "RELAY_";

    /// <summary>
    /// Builds the broker. <paramref name="settings"/> are configuration keys from the command line (or a test),
    /// applied over appsettings.json and <c>RELAY_</c> environment variables.
    /// </summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json is read from beside the binary, not from wherever the daemon was started: the content root is
        // also watched for changes, and a working directory such as a home or a repository is a tree of thousands of
        // directories (inotify watches on all of them at start).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(settings);

        builder.Services.AddOptions<BrokerOptions>()
            .BindConfiguration(BrokerOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BrokerOptions>, BrokerOptionsValidator>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = builder.Configuration.GetValue("Broker:ShutdownTimeout", TimeSpan.FromSeconds(10)));

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var options = context.Configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>() ?? new BrokerOptions();
            var certificate = LoadCertificate(options);
            foreach (var address in options.EffectiveListen)
            {
                kestrel.ListenGrpc(address, address.StartsWith("unix:", StringComparison.Ordinal) ? null : certificate);
            }

            foreach (var address in options.HttpListen)
            {
                var parsed = System.Net.IPEndPoint.Parse(address);
                kestrel.Listen(parsed, listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
            }
        });

        // The database first: its hosted service starts before, and stops after, everything that uses it.
        builder.Services.AddRelayPersistence();
        builder.Services.AddSingleton<BrokerSignals>();
        builder.Services.AddGrpcServer(o => o.MaxReceiveMessageSize = 4 * 1024 * 1024).AddGrpcHealth().AddGrpcReflection();
        builder.Services.AddBrokerFeatures();
        builder.Services.AddBrokerObservability(builder.Configuration, ServerInfo.BrokerReplica.CurrentVersion);
        builder.Services.AddSingleton<AdminService>();
        builder.Services.AddSingleton<AgentLinkService>();

        // EF Core and Npgsql log every SQL statement at Information, which buries the broker's own messages;
        // EF also logs the expected failure of its history-table probe on an empty database as an error.
        // Failures that matter surface as exceptions in the broker's own code and logs.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Database.Command", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore.Migrations", LogLevel.Information);
        builder.Logging.AddFilter("Npgsql", LogLevel.Warning);

        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapGrpcService<AgentLinkService>();
        app.MapGrpcService<AdminService>();
        app.MapGrpcHealthService();
        app.MapGrpcReflectionService();
        app.MapBrokerHttpEndpoints();
        return app;
    }

    private static X509Certificate2? LoadCertificate(BrokerOptions options)
    {
        if (options.TlsCertificatePath is not { } path)
        {
            return null;
        }

        // Kestrel reads its endpoints before the options validators run: check here too, with the same words.
        if (new BrokerOptionsValidator().Validate(null, options) is { Failed: true } invalid)
        {
            throw new OptionsValidationException(BrokerOptions.SectionName, typeof(BrokerOptions), invalid.Failures);
        }

        return options.TlsKeyPath is { } key
            ? X509Certificate2.CreateFromPemFile(path, key)
            : X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
    }
}
