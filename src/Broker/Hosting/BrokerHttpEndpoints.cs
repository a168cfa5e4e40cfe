using Grpc.Health.V1;
using Relay.Broker.Persistence;
using Relay.Grpc.Health;

namespace Relay.Broker.Hosting;

/// <summary>Plain HTTP probes for orchestrators: liveness (<c>/healthz</c>) and readiness (<c>/readyz</c>).</summary>
internal static class BrokerHttpEndpoints
{
    public static void MapBrokerHttpEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));
        endpoints.MapGet("/readyz", async (HealthStatusStore health, RelayDatabase database, CancellationToken cancellationToken) =>
        {
            if (health.GetStatus(string.Empty) != HealthCheckResponse.Types.ServingStatus.Serving)
            {
                return Results.Text("shutting down\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            try
            {
                await using var command = database.DataSource.CreateCommand("SELECT 1");
                await command.ExecuteScalarAsync(cancellationToken);
                return Results.Text("ready\n");
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or InvalidOperationException or TimeoutException)
            {
                return Results.Text("database unavailable\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });
    }
}
