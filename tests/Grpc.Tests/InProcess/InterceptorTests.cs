using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Relay.Grpc.Tests.Infrastructure;
using Relay.Grpc.Tests.Proto;

namespace Relay.Grpc.Tests.InProcess;

public sealed class InterceptorTests
{
    /// <summary>What the server's interceptors saw, shared through DI with the test.</summary>
    internal sealed class InterceptorLog
    {
        public ConcurrentQueue<string> Entries { get; } = new();
    }

    internal sealed class OuterInterceptor(InterceptorLog log) : ServerInterceptor
    {
        public override async Task InterceptAsync(ServerCallContext context, Func<ServerCallContext, Task> continuation)
        {
            log.Entries.Enqueue("outer:before");
            try
            {
                await continuation(context);
                log.Entries.Enqueue("outer:after");
            }
            catch (Exception ex)
            {
                log.Entries.Enqueue("outer:saw " + ex.GetType().Name + " " + ex.Message);
                throw;
            }
        }
    }

    internal sealed class InnerInterceptor(InterceptorLog log) : ServerInterceptor
    {
        public override async Task InterceptAsync(ServerCallContext context, Func<ServerCallContext, Task> continuation)
        {
            log.Entries.Enqueue("inner:before");
            context.UserState["user"] = "alice";
            await continuation(context);
            log.Entries.Enqueue("inner:after");
        }
    }

    internal sealed class AuthInterceptor : ServerInterceptor
    {
        public override Task InterceptAsync(ServerCallContext context, Func<ServerCallContext, Task> continuation) =>
            context.RequestHeaders.GetValue("authorization") == "Bearer good"
                ? continuation(context)
                : throw new RpcException(new Status(StatusCode.Unauthenticated, "Bad or missing token."));
    }

    private sealed class HeaderInterceptor(string value) : ClientInterceptor
    {
        public List<string> Methods { get; } = [];

        public override ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken)
        {
            Methods.Add(context.Method);
            context.Headers.Add("authorization", value);
            return ValueTask.CompletedTask;
        }
    }

    private sealed class RefusingInterceptor : ClientInterceptor
    {
        public override ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken) =>
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "not configured"));
    }

    private static Task<TestServer> StartWithLoggingInterceptorsAsync(InterceptorLog log, Func<TestRequest, ServerCallContext, Task<TestReply>> handler) =>
        TestServer.StartAsync(o =>
        {
            o.ConfigureServices = s => s.AddSingleton(log);
            o.ConfigureGrpc = g =>
            {
                g.Interceptors.Add(typeof(OuterInterceptor));
                g.Interceptors.Add(typeof(InnerInterceptor));
            };
            o.Handlers.Unary = handler;
        });

    [Fact]
    public async Task ServerInterceptors_Registered_RunInOrderAroundTheHandler()
    {
        var log = new InterceptorLog();
        await using var server = await StartWithLoggingInterceptorsAsync(log, (_, context) =>
        {
            log.Entries.Enqueue("handler:" + context.UserState["user"]);
            return Task.FromResult(new TestReply());
        });
        using var channel = server.CreateChannel();

        await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Bounded();

        log.Entries.Should().Equal("outer:before", "inner:before", "handler:alice", "inner:after", "outer:after");
    }

    [Fact]
    public async Task ServerInterceptor_HandlerThrows_SeesTheExceptionAndClientGetsUnknown()
    {
        var log = new InterceptorLog();
        await using var server = await StartWithLoggingInterceptorsAsync(log, (_, _) => throw new InvalidOperationException("boom"));
        using var channel = server.CreateChannel();

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.StatusCode.Should().Be(StatusCode.Unknown);
        log.Entries.Should().Equal("outer:before", "inner:before", "outer:saw InvalidOperationException boom");
    }

    [Fact]
    public async Task ServerInterceptor_RefusesCall_UnauthenticatedBeforeTheHandlerRuns()
    {
        var handlerRuns = 0;
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ConfigureGrpc = g => g.Interceptors.Add(typeof(AuthInterceptor));
            o.Handlers.Unary = (_, _) =>
            {
                Interlocked.Increment(ref handlerRuns);
                return Task.FromResult(new TestReply { Text = "secret" });
            };
        });
        using var channel = server.CreateChannel();
        var client = new TesterClient(channel);

        var error = (await client.Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;
        var allowed = await client.Unary(new TestRequest(), new CallOptions(Headers: new Metadata { { "authorization", "Bearer good" } })).ResponseAsync.Bounded();

        error.Status.Should().Be(new Status(StatusCode.Unauthenticated, "Bad or missing token."));
        allowed.Text.Should().Be("secret");
        handlerRuns.Should().Be(1);
    }

    [Fact]
    public async Task ServerInterceptor_StreamingCall_RefusedBeforeTheHandlerRuns()
    {
        var handlerRuns = 0;
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ConfigureGrpc = g => g.Interceptors.Add(typeof(AuthInterceptor));
            o.Handlers.Duplex = (_, _, _) =>
            {
                Interlocked.Increment(ref handlerRuns);
                return Task.CompletedTask;
            };
        });
        using var channel = server.CreateChannel();

        using var call = new TesterClient(channel).Duplex();

        (await call.ResponseStream.Awaiting(s => s.MoveNext().Bounded()).Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.Unauthenticated);
        handlerRuns.Should().Be(0);
    }

    [Fact]
    public async Task ClientInterceptor_AddsHeader_ServerSeesIt()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.ConfigureGrpc = g => g.Interceptors.Add(typeof(AuthInterceptor));
            o.Handlers.Unary = (_, context) => Task.FromResult(new TestReply { Text = context.RequestHeaders.GetValue("authorization") });
        });
        var interceptor = new HeaderInterceptor("Bearer good");
        var options = new GrpcChannelOptions();
        options.Interceptors.Add(interceptor);
        using var channel = server.CreateChannel(options);
        var callerHeaders = new Metadata { { "x-caller", "1" } };

        var reply = await new TesterClient(channel).Unary(new TestRequest(), new CallOptions(Headers: callerHeaders)).ResponseAsync.Bounded();

        reply.Text.Should().Be("Bearer good");
        interceptor.Methods.Should().Equal("/relay.grpctest.v1.Tester/Unary");
        callerHeaders.Should().ContainSingle(because: "the interceptor works on a copy, not the caller's metadata");
    }

    [Fact]
    public async Task ClientInterceptor_Throws_CallFailsWithItsStatusWithoutConnecting()
    {
        await using var server = await TestServer.StartAsync();
        var options = new GrpcChannelOptions();
        options.Interceptors.Add(new RefusingInterceptor());
        using var channel = server.CreateChannel(options);

        var error = (await new TesterClient(channel).Unary(new TestRequest()).ResponseAsync.Awaiting(t => t.Bounded()).Should().ThrowAsync<RpcException>()).Which;

        error.Status.Should().Be(new Status(StatusCode.FailedPrecondition, "not configured"));
        server.AcceptedConnections.Should().Be(0);
    }
}
