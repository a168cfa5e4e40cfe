using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.Infrastructure;

/// <summary>Hand-written method descriptions of relay.grpctest.v1.Tester (the layer generates no stubs).</summary>
internal static class TesterMethods
{
    public const string ServiceName = "relay.grpctest.v1.Tester";

    private static readonly Marshaller<TestRequest> s_request = Marshallers.Protobuf(TestRequest.Parser);
    private static readonly Marshaller<TestReply> s_reply = Marshallers.Protobuf(TestReply.Parser);

    public static readonly Method<TestRequest, TestReply> Unary = new(MethodType.Unary, ServiceName, "Unary", s_request, s_reply);

    public static readonly Method<TestRequest, TestReply> ServerStream = new(MethodType.ServerStreaming, ServiceName, "ServerStream", s_request, s_reply);

    public static readonly Method<TestRequest, TestReply> ClientStream = new(MethodType.ClientStreaming, ServiceName, "ClientStream", s_request, s_reply);

    public static readonly Method<TestRequest, TestReply> Duplex = new(MethodType.DuplexStreaming, ServiceName, "Duplex", s_request, s_reply);
}

/// <summary>A typed client over any invoker, shaped like a generated one.</summary>
internal sealed class TesterClient(CallInvoker invoker)
{
    public TesterClient(GrpcChannel channel)
        : this(channel.CreateCallInvoker())
    {
    }

    public AsyncUnaryCall<TestReply> Unary(TestRequest request, CallOptions options = default) =>
        invoker.AsyncUnaryCall(TesterMethods.Unary, options, request);

    public AsyncServerStreamingCall<TestReply> ServerStream(TestRequest request, CallOptions options = default) =>
        invoker.AsyncServerStreamingCall(TesterMethods.ServerStream, options, request);

    public AsyncClientStreamingCall<TestRequest, TestReply> ClientStream(CallOptions options = default) =>
        invoker.AsyncClientStreamingCall(TesterMethods.ClientStream, options);

    public AsyncDuplexStreamingCall<TestRequest, TestReply> Duplex(CallOptions options = default) =>
        invoker.AsyncDuplexStreamingCall(TesterMethods.Duplex, options);
}

/// <summary>The server's behaviour for each method; tests replace the parts they exercise.</summary>
internal sealed class TesterHandlers
{
    public Func<TestRequest, ServerCallContext, Task<TestReply>> Unary { get; set; } =
        (request, _) => Task.FromResult(new TestReply { Text = request.Text, Payload = request.Payload });

    public Func<TestRequest, IServerStreamWriter<TestReply>, ServerCallContext, Task> ServerStream { get; set; } =
        async (request, responses, context) =>
        {
            for (var i = 0; i < request.Count; i++)
            {
                await responses.WriteAsync(new TestReply { Text = request.Text, Index = i }, context.CancellationToken);
            }
        };

    public Func<IAsyncStreamReader<TestRequest>, ServerCallContext, Task<TestReply>> ClientStream { get; set; } =
        async (requests, context) =>
        {
            var texts = new List<string>();
            while (await requests.MoveNext(context.CancellationToken))
            {
                texts.Add(requests.Current.Text);
            }

            return new TestReply { Text = string.Join(",", texts), Index = texts.Count };
        };

    public Func<IAsyncStreamReader<TestRequest>, IServerStreamWriter<TestReply>, ServerCallContext, Task> Duplex { get; set; } =
        async (requests, responses, context) =>
        {
            var i = 0;
            while (await requests.MoveNext(context.CancellationToken))
            {
                await responses.WriteAsync(new TestReply { Text = requests.Current.Text, Payload = requests.Current.Payload, Index = i++ }, context.CancellationToken);
            }
        };
}

/// <summary>The service type the server maps; its behaviour comes from the server's <see cref="TesterHandlers"/>.</summary>
internal sealed class TesterService
{
    public static void Bind(ServiceBinder<TesterService> binder, TesterHandlers handlers)
    {
        binder.ServiceDescriptor = TestReflection.Descriptor.Services[0];
        binder.AddUnaryMethod(TesterMethods.Unary, (_, request, context) => handlers.Unary(request, context));
        binder.AddServerStreamingMethod(TesterMethods.ServerStream, (_, request, responses, context) => handlers.ServerStream(request, responses, context));
        binder.AddClientStreamingMethod(TesterMethods.ClientStream, (_, requests, context) => handlers.ClientStream(requests, context));
        binder.AddDuplexStreamingMethod(TesterMethods.Duplex, (_, requests, responses, context) => handlers.Duplex(requests, responses, context));
    }
}
