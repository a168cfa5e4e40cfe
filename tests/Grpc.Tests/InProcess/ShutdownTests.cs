using Grpc.Health.V1;
using Relay.Grpc.Health;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

public sealed class ShutdownTests
{
    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.Unix)]
    public async Task ServerStreaming_HostStops_CallEndsUnavailableServerShuttingDown(Transport transport)
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Transport = transport;
            o.Handlers.ServerStream = async (_, responses, context) =>
            {
                await responses.WriteAsync(new TestReply());
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            };
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).ServerStream(new TestRequest());
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        var stopping = server.StopAsync();

        var error = (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which;
        await stopping;

        error.Status.Should().Be(new Status(StatusCode.Unavailable, "Server is shutting down."));
    }

    [Fact]
    public async Task Duplex_HostStops_CallEndsUnavailableServerShuttingDown()
    {
        await using var server = await TestServer.StartAsync();
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();
        await call.RequestStream.WriteAsync(new TestRequest { Text = "1" }).Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        var stopping = server.StopAsync();

        var error = (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which;
        await stopping;

        error.Status.Should().Be(new Status(StatusCode.Unavailable, "Server is shutting down."));
    }

    [Fact]
    public async Task HealthWatch_HostStops_SeesNotServingBeforeTheStreamEnds()
    {
        await using var server = await TestServer.StartAsync(o => o.AddHealth = true);
        using var channel = server.CreateChannel();
        var health = new HealthClient(channel);

        using var watch = health.Watch(new HealthCheckRequest());
        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.ResponseStream.Current.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);
        var stopping = server.StopAsync();

        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.ResponseStream.Current.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.NotServing);
        (await watch.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unavailable);
        await stopping;
        server.GetService<HealthStatusStore>().GetStatus(string.Empty).Should().Be(HealthCheckResponse.Types.ServingStatus.NotServing);
    }

    [Fact]
    public async Task Unary_InFlightWhenHostStops_CompletesNormally()
    {
        var handlerStarted = Waits.NewSignal();
        var release = Waits.NewSignal();
        await using var server = await TestServer.StartAsync(o => o.Handlers.Unary = async (request, _) =>
        {
            handlerStarted.TrySetResult();
            await release.Task;
            return new TestReply { Text = request.Text };
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Unary(new TestRequest { Text = "drained" });
        await handlerStarted.Task.Bounded();
        var stopping = server.StopAsync();
        release.SetResult();

        (await call.ResponseAsync.Bounded()).Text.Should().Be("drained");
        await stopping;
    }
}
