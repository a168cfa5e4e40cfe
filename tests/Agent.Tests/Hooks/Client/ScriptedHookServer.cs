using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Client;

/// <summary>
/// A real gRPC server (Kestrel's HTTP/2 and Relay.Grpc, as the agent runs them) on a Unix socket, whose LocalAgent.Hook
/// does what the test says.
/// </summary>
internal sealed class ScriptedHookServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ScriptedHookServer(WebApplication app, string socketPath, Service service)
    {
        _app = app;
        SocketPath = socketPath;
        Hook = service;
    }

    public string SocketPath { get; }

    public Service Hook { get; }

    public static async Task<ScriptedHookServer> StartAsync(string socketPath, CancellationToken cancellationToken)
    {
        var service = new Service();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc("unix:" + socketPath));
        builder.Services.AddGrpcServer(o => o.MaxReceiveMessageSize = 4 * 1024 * 1024);
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync(cancellationToken);
        return new ScriptedHookServer(app, socketPath, service);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    internal sealed class Service : LocalAgent.LocalAgentBase
    {
        public Func<HookRequest, ServerCallContext, Task<HookResponse>> OnHook { get; set; } =
            (_, _) => Task.FromResult(new HookResponse());

        public override Task<HookResponse> Hook(HookRequest request, ServerCallContext context) => OnHook(request, context);
    }
}
