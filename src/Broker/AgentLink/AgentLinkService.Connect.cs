using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.AgentLink;

internal sealed partial class AgentLinkService
{
    /// <summary>
    /// The agent's stream: authenticate, read Hello, claim the machine (fencing out older streams), Welcome with both
    /// resume positions, then run until either side ends it. See agent_link.proto for the rules.
    /// </summary>
    public override async Task Connect(IAsyncStreamReader<AgentMessage> requestStream, IServerStreamWriter<BrokerMessage> responseStream, ServerCallContext context)
    {
        var principal = await Get<IAgentIdentity>().AuthenticateAsync(context, context.CancellationToken);
        var services = Get<AgentConnectionServices>();
        var hello = await ReadHelloAsync(requestStream, services, context);
        if (!Guid.TryParse(hello.MachineId, out var machineId) || machineId != principal.MachineId)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"Hello.machine_id '{Clip(hello.MachineId)}' is not the machine of this credential; an agent speaks only for its own machine."));
        }

        if (hello.SpoolEpoch.Length is 0 or > Persistence.Limits.IdempotencyKey)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Hello.spool_epoch must be 1 to 128 characters."));
        }

        using var connection = new AgentConnection(services, principal, hello, requestStream, responseStream, context);
        var registry = Get<AgentConnectionRegistry>();
        try
        {
            // Claim in the database first: from then on the older stream (here or on another replica) can neither commit
            // nor release the machine, so replacing it leaves no offline flicker and no window for two writers.
            Handshake handshake;
            try
            {
                // Through the ingest gate, like batches: a reconnect storm (a broker restart) must not take a connection per agent.
                using (await services.IngestGate.EnterAsync(context.CancellationToken))
                {
                    handshake = await services.LinkState.ClaimAsync(connection.Machine, hello, connection.Id, context.CancellationToken);
                }
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException)
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "The broker's database is unavailable; reconnect shortly."));
            }

            registry.Register(connection);
            services.Signals.Publish(Signals.BrokerSignals.Machine(connection.Machine.Id.ToString("D")));
            services.Signals.Publish(Signals.BrokerSignals.Events);
            await connection.RunAsync(handshake);
        }
        finally
        {
            registry.Unregister(connection);
            await ReleaseAsync(services, connection);
        }
    }

    private static async Task<Hello> ReadHelloAsync(IAsyncStreamReader<AgentMessage> requests, AgentConnectionServices services, ServerCallContext context)
    {
        using var timeout = new CancellationTokenSource(services.Options.HelloTimeout, services.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, context.CancellationToken);
        try
        {
            if (!await requests.MoveNext(linked.Token))
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, "The stream ended before its Hello."));
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"No Hello within {services.Options.HelloTimeout}."));
        }

        var first = requests.Current;
        if (first.BodyCase != AgentMessage.BodyOneofCase.Hello || first.Seq != 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"The first message must be an unsequenced Hello, not {first.BodyCase}."));
        }

        return first.Hello;
    }

    private static async Task ReleaseAsync(AgentConnectionServices services, AgentConnection connection)
    {
        // The call is over (its token may have fired): a short bound of our own, the database may be stopping too.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using (await services.IngestGate.EnterAsync(bound.Token))
            {
                await services.LinkState.ReleaseAsync(connection.Machine, connection.Id, bound.Token);
            }

            services.Signals.Publish(Signals.BrokerSignals.Machine(connection.Machine.Id.ToString("D")));
            services.Signals.Publish(Signals.BrokerSignals.Events);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException or InvalidOperationException)
        {
            AgentLinkLog.ReleaseFailed(services.Logger, ex, connection.Machine.Name);
        }
    }

    private static string Clip(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
