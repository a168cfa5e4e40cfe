using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Relay.Broker.Admin;
using Relay.Broker.AgentLink;
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
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.AddEnvironmentVariables(EnvironmentPrefix);
        builder.Configuration.AddInMemoryCollection(settings);

        builder.Services.AddOptions<BrokerOptions>()
            .BindConfiguration(BrokerOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.EffectiveListen.All(a => !string.IsNullOrWhiteSpace(a)), "Broker:Listen entries must be host:port or unix:/path.")
            .Validate(o => o.TlsKeyPath is null || o.TlsCertificatePath is not null, "Broker:TlsKeyPath is set without Broker:TlsCertificatePath; give both (PEM) or a PFX certificate alone.")
            .ValidateOnStart();
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
        builder.Services.AddSingleton<AdminService>();
        builder.Services.AddSingleton<AgentLinkService>();

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

        if (!File.Exists(path))
        {
            throw new OptionsValidationException(BrokerOptions.SectionName, typeof(BrokerOptions),
                [$"Broker:TlsCertificatePath '{path}' does not exist. Point it at a PEM (with Broker:TlsKeyPath) or PFX certificate."]);
        }

        return options.TlsKeyPath is { } key
            ? X509Certificate2.CreateFromPemFile(path, key)
            : X509CertificateLoader.LoadPkcs12FromFile(path, password: null);
    }
}
