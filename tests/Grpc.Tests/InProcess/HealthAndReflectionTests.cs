using Google.Protobuf.Reflection;
using Grpc.Health.V1;
using Grpc.Reflection.V1;
using Relay.Grpc.Health;
using Relay.Grpc.Tests.Infrastructure;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Relay.Grpc.Tests.InProcess;

public sealed class HealthAndReflectionTests
{
    private static Task<TestServer> StartAsync() => TestServer.StartAsync(o =>
    {
        o.AddHealth = true;
        o.AddReflection = true;
    });

    [Fact]
    public async Task HealthCheck_WholeServer_Serving()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var response = await new HealthClient(channel).Check(new HealthCheckRequest()).ResponseAsync.Bounded();

        response.Status.Should().Be(ServingStatus.Serving);
    }

    [Fact]
    public async Task HealthCheck_UnregisteredService_NotFound()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var error = (await new HealthClient(channel).Check(new HealthCheckRequest { Service = "nope" }).ResponseAsync
            .Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.NotFound);
    }

    [Fact]
    public async Task HealthCheck_AfterSetStatus_ReportsIt()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();
        server.GetService<HealthStatusStore>().SetStatus("relay.grpctest.v1.Tester", ServingStatus.NotServing);

        var response = await new HealthClient(channel).Check(new HealthCheckRequest { Service = "relay.grpctest.v1.Tester" }).ResponseAsync.Bounded();

        response.Status.Should().Be(ServingStatus.NotServing);
    }

    [Fact]
    public async Task HealthWatch_SetStatus_NotifiesWatcher()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();
        var store = server.GetService<HealthStatusStore>();

        using var watch = new HealthClient(channel).Watch(new HealthCheckRequest { Service = "svc" });
        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.ResponseStream.Current.Status.Should().Be(ServingStatus.ServiceUnknown, because: "Watch does not end for an unknown service");

        store.SetStatus("svc", ServingStatus.Serving);
        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.ResponseStream.Current.Status.Should().Be(ServingStatus.Serving);

        store.SetStatus("svc", ServingStatus.NotServing);
        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.ResponseStream.Current.Status.Should().Be(ServingStatus.NotServing);

        store.ClearStatus("svc");
        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.ResponseStream.Current.Status.Should().Be(ServingStatus.ServiceUnknown);
    }

    [Fact]
    public async Task HealthWatch_ClientDisposesThenWatchesAgain_NewWatcherGetsCurrentStatus()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();
        var store = server.GetService<HealthStatusStore>();

        var watch = new HealthClient(channel).Watch(new HealthCheckRequest { Service = "gone" });
        (await watch.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        watch.Dispose();

        // The next status change after the reset must not reach a dead watcher; a new watcher still works.
        store.SetStatus("gone", ServingStatus.Serving);
        using var again = new HealthClient(channel).Watch(new HealthCheckRequest { Service = "gone" });
        (await again.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
        again.ResponseStream.Current.Status.Should().Be(ServingStatus.Serving);
    }

    private static async Task<List<ServerReflectionResponse>> ReflectAsync(GrpcChannel channel, string serviceName, params ServerReflectionRequest[] requests)
    {
        var method = new Method<ServerReflectionRequest, ServerReflectionResponse>(MethodType.DuplexStreaming, serviceName, "ServerReflectionInfo",
            Marshallers.Protobuf(ServerReflectionRequest.Parser), Marshallers.Protobuf(ServerReflectionResponse.Parser));
        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(method, default);
        var responses = new List<ServerReflectionResponse>();
        foreach (var request in requests)
        {
            // One response per request, in order, on the same stream.
            await call.RequestStream.WriteAsync(request).Bounded();
            (await call.ResponseStream.MoveNext().Bounded()).Should().BeTrue();
            responses.Add(call.ResponseStream.Current);
        }

        await call.RequestStream.CompleteAsync().Bounded();
        (await call.ResponseStream.MoveNext().Bounded()).Should().BeFalse();
        return responses;
    }

    private static List<string> FileNames(ServerReflectionResponse response) =>
        response.FileDescriptorResponse.FileDescriptorProto.Select(b => FileDescriptorProto.Parser.ParseFrom(b).Name).ToList();

    [Fact]
    public async Task Reflection_ListServices_IncludesAppHealthAndReflection()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var responses = await ReflectAsync(channel, "grpc.reflection.v1.ServerReflection", new ServerReflectionRequest { ListServices = "*" });

        responses[0].ListServicesResponse.Service.Select(s => s.Name).Should().BeEquivalentTo(
            "relay.grpctest.v1.Tester", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection");
    }

    [Theory]
    [InlineData("relay.grpctest.v1.Tester.Unary")]
    [InlineData("relay.grpctest.v1.Tester")]
    [InlineData("relay.grpctest.v1.TestRequest")]
    public async Task Reflection_FileContainingSymbol_ReturnsTheFileAndItsDependencies(string symbol)
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var responses = await ReflectAsync(channel, "grpc.reflection.v1.ServerReflection", new ServerReflectionRequest { FileContainingSymbol = symbol, Host = "h" });

        responses[0].ValidHost.Should().Be("h");
        responses[0].OriginalRequest.FileContainingSymbol.Should().Be(symbol);
        FileNames(responses[0]).Should().Equal("Protos/test.proto", "google/protobuf/timestamp.proto");
    }

    [Fact]
    public async Task Reflection_FileContainingNestedEnum_Found()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var responses = await ReflectAsync(channel, "grpc.reflection.v1.ServerReflection",
            new ServerReflectionRequest { FileContainingSymbol = "grpc.health.v1.HealthCheckResponse.ServingStatus" });

        FileNames(responses[0]).Should().Equal("grpc/health/v1/health.proto");
    }

    [Theory]
    [InlineData("grpc/health/v1/health.proto")]
    [InlineData("google/protobuf/timestamp.proto")]
    public async Task Reflection_FileByFilename_ReturnsTheFile(string file)
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var responses = await ReflectAsync(channel, "grpc.reflection.v1.ServerReflection", new ServerReflectionRequest { FileByFilename = file });

        FileNames(responses[0]).Should().StartWith(file);
    }

    [Fact]
    public async Task Reflection_UnknownSymbolAndFile_ErrorResponseNotFoundAndTheStreamGoesOn()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var responses = await ReflectAsync(channel, "grpc.reflection.v1.ServerReflection",
            new ServerReflectionRequest { FileContainingSymbol = "no.Such.Symbol" },
            new ServerReflectionRequest { FileByFilename = "no/such.proto" },
            new ServerReflectionRequest { FileContainingExtension = new ExtensionRequest { ContainingType = "x", ExtensionNumber = 1 } },
            new ServerReflectionRequest { ListServices = "" });

        responses[0].ErrorResponse.ErrorCode.Should().Be((int)StatusCode.NotFound);
        responses[1].ErrorResponse.ErrorCode.Should().Be((int)StatusCode.NotFound);
        responses[2].ErrorResponse.ErrorCode.Should().Be((int)StatusCode.Unimplemented);
        responses[3].ListServicesResponse.Service.Should().NotBeEmpty();
    }

    [Fact]
    public async Task Reflection_V1AlphaPath_AnswersWithTheSameMessages()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();
        var method = new Method<V1Alpha.ServerReflectionRequest, V1Alpha.ServerReflectionResponse>(MethodType.DuplexStreaming,
            "grpc.reflection.v1alpha.ServerReflection", "ServerReflectionInfo",
            Marshallers.Protobuf(V1Alpha.ServerReflectionRequest.Parser), Marshallers.Protobuf(V1Alpha.ServerReflectionResponse.Parser));

        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(method, default);
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { ListServices = "" }).Bounded();
        await call.RequestStream.WriteAsync(new V1Alpha.ServerReflectionRequest { FileContainingSymbol = "grpc.health.v1.Health.Check" }).Bounded();
        await call.RequestStream.CompleteAsync().Bounded();
        var responses = new List<V1Alpha.ServerReflectionResponse>();
        while (await call.ResponseStream.MoveNext().Bounded())
        {
            responses.Add(call.ResponseStream.Current);
        }

        responses.Should().HaveCount(2);
        responses[0].ListServicesResponse.Service.Select(s => s.Name).Should().Contain("relay.grpctest.v1.Tester");
        FileDescriptorProto.Parser.ParseFrom(responses[1].FileDescriptorResponse.FileDescriptorProto[0]).Name.Should().Be("grpc/health/v1/health.proto");
    }

    [Fact]
    public async Task Reflection_ServedDescriptors_BuildIntoUsableFileDescriptors()
    {
        await using var server = await StartAsync();
        using var channel = server.CreateChannel();

        var responses = await ReflectAsync(channel, "grpc.reflection.v1.ServerReflection", new ServerReflectionRequest { FileContainingSymbol = "relay.grpctest.v1.Tester" });
        // What grpcurl does with them: build descriptors, dependencies first, and find the method.
        var files = FileDescriptor.BuildFromByteStrings(responses[0].FileDescriptorResponse.FileDescriptorProto.Reverse().ToList());

        files.Single(f => f.Name == "Protos/test.proto").Services.Single().FindMethodByName("Duplex").IsClientStreaming.Should().BeTrue();
    }
}
