using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Relay.Bench.Baseline;

/// <summary>
/// What most hook dashboards do: an HTTP endpoint that stores each POSTed event with one INSERT, committed on its own
/// (autocommit), and answers when it is stored. Runs as its own process (<c>relay-bench baseline-server</c>) so its CPU
/// is measured like the broker's. Duplicates are skipped by a unique event id, as the broker skips them.
/// </summary>
internal static class BaselineServer
{
    public const string Command = "baseline-server";
    public const string ListeningLine = "baseline listening on ";
    public const string Table = "relay_bench_baseline_events";

    public const string CreateTable = $"""
        CREATE TABLE IF NOT EXISTS {Table} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            machine text NOT NULL,
            event_id uuid NOT NULL UNIQUE,
            received_at timestamptz NOT NULL,
            payload jsonb NOT NULL)
        """;

    private const string Insert = $"INSERT INTO {Table} (machine, event_id, received_at, payload) VALUES ($1, $2, now(), $3::jsonb) ON CONFLICT (event_id) DO NOTHING";

    public static async Task<int> RunAsync(string connectionString)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        // Half of PostgreSQL's default max_connections (100), which the broker shares: more clients than that queue
        // for a pooled connection, as they would in any such service.
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 50 }.ConnectionString));
        await using var app = builder.Build();
        app.MapPost("/events/{machine}", StoreAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        Console.WriteLine(ListeningLine + address);
        await app.WaitForShutdownAsync();
        return 0;
    }

    private static async Task<IResult> StoreAsync(string machine, Guid id, HttpRequest request, NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        using var body = new StreamReader(request.Body);
        var json = await body.ReadToEndAsync(cancellationToken);
        await using var command = database.CreateCommand(Insert);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = machine });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = json });
        await command.ExecuteNonQueryAsync(cancellationToken);
        return Results.NoContent();
    }
}
