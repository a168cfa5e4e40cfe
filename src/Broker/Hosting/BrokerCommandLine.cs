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
            return await RunGuardedAsync(result, async () =>
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
            return await RunGuardedAsync(result, async () =>
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

                await result.InvocationConfiguration.Output.WriteLineAsync("relay-broker: migrations applied");
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

    /// <summary>Turns start-up failures into one clear line on stderr and exit code 1 instead of a stack trace.</summary>
    private static async Task<int> RunGuardedAsync(ParseResult result, Func<Task<int>> action)
    {
        var error = result.InvocationConfiguration.Error;
        try
        {
            return await action();
        }
        catch (Exception ex) when (Failures(ex) is { Count: > 0 } failures)
        {
            await error.WriteLineAsync("relay-broker: invalid configuration: " + OneLine(string.Join("; ", failures)));
            return 1;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or Postgres.EmbeddedPostgresException or FormatException
            or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException or Npgsql.NpgsqlException)
        {
            await error.WriteLineAsync("relay-broker: " + OneLine(ex.Message));
            return 1;
        }
    }

    /// <summary>The option validation failures in <paramref name="ex"/> (several validators fail together as an AggregateException).</summary>
    private static List<string> Failures(Exception ex) => ex switch
    {
        OptionsValidationException options => [.. options.Failures],
        AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException) =>
            aggregate.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures).ToList(),
        _ => [],
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
