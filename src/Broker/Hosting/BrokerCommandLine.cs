using System.CommandLine;
using System.Reflection;
using Microsoft.Extensions.Options;
using Relay.Broker.Persistence;

namespace Relay.Broker.Hosting;

/// <summary><c>relay-broker run|migrate</c>.</summary>
internal static class BrokerCommandLine
{
    public static Task<int> InvokeAsync(string[] args) => BuildRootCommand().Parse(args).InvokeAsync();

    internal static RootCommand BuildRootCommand()
    {
        var listen = new Option<string[]>("--listen")
        {
            Description = "Address to serve gRPC on: host:port (h2c, or TLS with --tls-cert) or unix:/path. Repeatable. Default 127.0.0.1:7443.",
            AllowMultipleArgumentsPerToken = false,
        };
        var httpListen = new Option<string[]>("--http-listen") { Description = "ip:port for plain HTTP/1.1 probes (/healthz, /readyz). Repeatable." };
        var dataDir = new Option<string?>("--data-dir") { Description = "The broker's data directory (admin.token, the embedded PostgreSQL cluster)." };
        var database = new Option<string?>("--database") { Description = "A PostgreSQL connection string. Without it the broker runs an embedded cluster under --data-dir." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "A PEM or PFX certificate for TLS." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The PEM private key of --tls-cert." };

        var run = new Command("run", "Run the broker until stopped (SIGTERM or Ctrl+C).") { listen, httpListen, dataDir, database, tlsCert, tlsKey };
        run.SetAction(async (result, cancellationToken) =>
        {
            var settings = Settings(result, listen, httpListen, dataDir, database, tlsCert, tlsKey);
            return await RunGuardedAsync(async () =>
            {
                await using var app = BrokerApplication.Build(settings);
                await app.RunAsync(cancellationToken);
                return 0;
            });
        });

        var migrate = new Command("migrate", "Apply the database migrations and exit.") { dataDir, database };
        migrate.SetAction(async (result, cancellationToken) =>
        {
            var settings = Settings(result, listen: null, httpListen: null, dataDir, database, tlsCert: null, tlsKey: null);
            settings["Database:MigrateOnStart"] = "false";
            return await RunGuardedAsync(async () =>
            {
                await using var app = BrokerApplication.Build(settings);
                var db = app.Services.GetRequiredService<RelayDatabase>();
                await db.StartAsync(cancellationToken);
                try
                {
                    await app.Services.MigrateRelayDatabaseAsync(cancellationToken);
                }
                finally
                {
                    await db.StopAsync(CancellationToken.None);
                }

                await Console.Out.WriteLineAsync("relay-broker: migrations applied");
                return 0;
            });
        });

        var version = typeof(BrokerCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        return new RootCommand($"relay-broker {version}: the team-wide relay broker for Claude Code.") { run, migrate };
    }

    private static Dictionary<string, string?> Settings(
        ParseResult result, Option<string[]>? listen, Option<string[]>? httpListen, Option<string?> dataDir, Option<string?> database, Option<string?>? tlsCert, Option<string?>? tlsKey)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        AddList(settings, "Broker:Listen", listen is null ? null : result.GetValue(listen));
        AddList(settings, "Broker:HttpListen", httpListen is null ? null : result.GetValue(httpListen));
        if (result.GetValue(dataDir) is { } dir)
        {
            var full = Path.GetFullPath(dir);
            settings["Broker:DataDirectory"] = full;
            settings["Database:Embedded:DataDirectory"] = full;
        }

        if (result.GetValue(database) is { } connectionString)
        {
            settings["Database:ConnectionString"] = connectionString;
        }

        if (tlsCert is not null && result.GetValue(tlsCert) is { } cert)
        {
            settings["Broker:TlsCertificatePath"] = Path.GetFullPath(cert);
        }

        if (tlsKey is not null && result.GetValue(tlsKey) is { } key)
        {
            settings["Broker:TlsKeyPath"] = Path.GetFullPath(key);
        }

        return settings;
    }

    private static void AddList(Dictionary<string, string?> settings, string key, string[]? values)
    {
        for (var i = 0; values is not null && i < values.Length; i++)
        {
            settings[$"{key}:{i}"] = values[i];
        }
    }

    /// <summary>Turns start-up failures into one clear line and exit code 1 instead of a stack trace.</summary>
    private static async Task<int> RunGuardedAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync("relay-broker: invalid configuration: " + string.Join("; ", ex.Failures));
            return 1;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or Postgres.EmbeddedPostgresException or FormatException)
        {
            await Console.Error.WriteLineAsync("relay-broker: " + ex.Message);
            return 1;
        }
    }
}
