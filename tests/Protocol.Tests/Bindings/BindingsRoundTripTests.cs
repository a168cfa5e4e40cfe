using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Protocol.Tests.Bindings;

/// <summary>Implementations of the generated base classes on Kestrel, called with the generated clients
/// over a real socket.</summary>
public sealed class BindingsRoundTripTests(BindingsRoundTripTests.Server server) : IClassFixture<BindingsRoundTripTests.Server>
{
    private static DateTime Deadline => DateTime.UtcNow.AddSeconds(30);

    [Fact]
    public async Task GetServerInfoAsync_OverriddenUnary_ReturnsTheResponseBuiltFromRequestHeaders()
    {
        var client = new Admin.AdminClient(server.Channel);

        var response = await client.GetServerInfoAsync(new GetServerInfoRequest(), new Metadata { { "x-replica", "replica-7" } }, Deadline);

        response.Version.Should().Be("test");
        response.Replica.Should().Be("replica-7");
    }

    [Fact]
    public async Task WatchAsync_OverriddenServerStreaming_StreamsEveryResponse()
    {
        var client = new Admin.AdminClient(server.Channel);

        using var call = client.WatchAsync(new WatchRequest { AfterCursor = "c" }, new CallOptions(Deadline: Deadline));
        var cursors = new List<string>();
        await foreach (var response in call.ResponseStream.ReadAllAsync())
        {
            cursors.Add(response.Checkpoint.Cursor);
        }

        cursors.Should().Equal("c-1", "c-2", "c-3");
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    [Fact]
    public async Task ListMachinesAsync_NotOverridden_ThrowsUnimplementedNamingTheMethod()
    {
        var client = new Admin.AdminClient(server.Channel);

        var act = async () => await client.ListMachinesAsync(new ListMachinesRequest(), deadline: Deadline);

        var thrown = await act.Should().ThrowAsync<RpcException>();
        thrown.Which.StatusCode.Should().Be(StatusCode.Unimplemented);
        thrown.Which.Status.Detail.Should().Be("Method relay.v1.Admin/ListMachines is not implemented.");
    }

    [Fact]
    public async Task AttachAsync_OverriddenDuplex_AnswersEachMessageUntilTheClientCompletes()
    {
        var client = new LocalAgent.LocalAgentClient(server.Channel);

        using var call = client.AttachAsync(deadline: Deadline);
        var answers = new List<string>();
        foreach (var sessionId in new[] { "s1", "s2" })
        {
            await call.RequestStream.WriteAsync(new ChannelMessage { Hello = new ChannelHello { ClaudeSessionId = sessionId } });
            (await call.ResponseStream.MoveNext()).Should().BeTrue();
            answers.Add(call.ResponseStream.Current.Notice.Message);
        }

        await call.RequestStream.CompleteAsync();

        (await call.ResponseStream.MoveNext()).Should().BeFalse();
        answers.Should().Equal("hello s1", "hello s2");
        call.GetStatus().StatusCode.Should().Be(StatusCode.OK);
    }

    /// <summary>Kestrel on 127.0.0.1 with an ephemeral port, serving <see cref="TestAdmin"/> and
    /// <see cref="TestLocalAgent"/>, and a channel to it.</summary>
    public sealed class Server : IAsyncLifetime
    {
        private WebApplication? _app;

        public GrpcChannel Channel { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc("127.0.0.1:0"));
            builder.Services.AddGrpcServer();
            _app = builder.Build();
            _app.MapGrpcService<TestAdmin>();
            _app.MapGrpcService<TestLocalAgent>();
            await _app.StartAsync();

            var address = _app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
            Channel = GrpcChannel.ForAddress(address);
        }

        public async Task DisposeAsync()
        {
            Channel?.Dispose();
            if (_app is not null)
            {
                await _app.StopAsync();
                await _app.DisposeAsync();
            }
        }
    }

    private sealed class TestAdmin : Admin.AdminBase
    {
        public override Task<GetServerInfoResponse> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) =>
            Task.FromResult(new GetServerInfoResponse { Version = "test", Replica = context.RequestHeaders.GetValue("x-replica") ?? string.Empty });

        public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchResponse> responseStream, ServerCallContext context)
        {
            for (var i = 1; i <= 3; i++)
            {
                var checkpoint = new WatchCheckpoint { Cursor = $"{request.AfterCursor}-{i}" };
                await responseStream.WriteAsync(new WatchResponse { Checkpoint = checkpoint }, context.CancellationToken);
            }
        }
    }

    private sealed class TestLocalAgent : LocalAgent.LocalAgentBase
    {
        public override async Task Attach(IAsyncStreamReader<ChannelMessage> requestStream, IServerStreamWriter<AgentToChannelMessage> responseStream, ServerCallContext context)
        {
            await foreach (var message in requestStream.ReadAllAsync(context.CancellationToken))
            {
                var notice = new Notice { Message = "hello " + message.Hello.ClaudeSessionId };
                await responseStream.WriteAsync(new AgentToChannelMessage { Notice = notice }, context.CancellationToken);
            }
        }
    }
}
