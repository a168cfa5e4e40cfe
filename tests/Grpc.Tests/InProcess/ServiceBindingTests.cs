using Microsoft.Extensions.DependencyInjection;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

/// <summary>The generated-code path: a base class names its bind method with [BindServiceMethod].</summary>
public sealed class ServiceBindingTests
{
    private static readonly Method<TestRequest, TestReply> s_echo = new(MethodType.Unary, "relay.grpctest.v1.Attributed", "Echo",
        Marshallers.Protobuf(TestRequest.Parser), Marshallers.Protobuf(TestReply.Parser));

    [BindServiceMethod(typeof(AttributedBase), nameof(BindService))]
    internal abstract class AttributedBase
    {
        public static void BindService<TService>(ServiceBinder<TService> binder)
            where TService : AttributedBase =>
            binder.AddUnaryMethod(s_echo, static (service, request, context) => service.Echo(request, context));

        public abstract Task<TestReply> Echo(TestRequest request, ServerCallContext context);
    }

    /// <summary>Counts instances and disposals across calls (static: the layer creates the instances).</summary>
    internal sealed class CountingService : AttributedBase, IDisposable
    {
        private static int s_created;
        private static int s_disposed;

        public CountingService() => Interlocked.Increment(ref s_created);

        public static (int Created, int Disposed) Counts => (Volatile.Read(ref s_created), Volatile.Read(ref s_disposed));

        public override Task<TestReply> Echo(TestRequest request, ServerCallContext context) => Task.FromResult(new TestReply { Text = request.Text });

        public void Dispose() => Interlocked.Increment(ref s_disposed);
    }

    internal sealed class SingletonService(string greeting) : AttributedBase
    {
        public override Task<TestReply> Echo(TestRequest request, ServerCallContext context) => Task.FromResult(new TestReply { Text = greeting + request.Text });
    }

    [Fact]
    public async Task MapGrpcService_NotRegisteredInDi_CreatedAndDisposedPerCall()
    {
        await using var server = await TestServer.StartAsync(o => o.ConfigureEndpoints = e => e.MapGrpcService<CountingService>());
        using var channel = server.CreateChannel();
        var invoker = channel.CreateCallInvoker();
        var before = CountingService.Counts;

        for (var i = 0; i < 3; i++)
        {
            (await invoker.AsyncUnaryCall(s_echo, default, new TestRequest { Text = "x" }).ResponseAsync.Bounded()).Text.Should().Be("x");
        }

        var after = CountingService.Counts;
        (after.Created - before.Created).Should().Be(3);
        (after.Disposed - before.Disposed).Should().Be(3);
    }

    [Fact]
    public async Task MapGrpcService_RegisteredInDi_ResolvedFromDi()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ConfigureServices = s => s.AddSingleton(new SingletonService("hello "));
            o.ConfigureEndpoints = e => e.MapGrpcService<SingletonService>();
        });
        using var channel = server.CreateChannel();

        var reply = await channel.CreateCallInvoker().AsyncUnaryCall(s_echo, default, new TestRequest { Text = "di" }).ResponseAsync.Bounded();

        reply.Text.Should().Be("hello di");
    }

    [Fact]
    public void AddUnaryMethod_StreamingMethod_Throws()
    {
        var add = () => new ServiceBinder<TesterService>().AddUnaryMethod(TesterMethods.Duplex, (_, _, _) => Task.FromResult(new TestReply()));

        add.Should().Throw<ArgumentException>();
    }
}
