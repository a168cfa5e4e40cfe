using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Launch;

/// <summary>
/// A stand-in for the running relay-agent daemon: LocalAgent on a real Unix socket, answering Launch and GetStatus
/// with what the test sets, and recording the requests.
/// </summary>
internal sealed class FakeAgentDaemon : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Service _service;

    private FakeAgentDaemon(WebApplication app, string socketPath, Service service)
    {
        _app = app;
        _service = service;
        SocketPath = socketPath;
    }

    public string SocketPath { get; }

    /// <summary>What Launch answers; the request is passed in.</summary>
    public Func<LocalLaunchRequest, LaunchResult> OnLaunch { get => _service.OnLaunch; set => _service.OnLaunch = value; }

    /// <summary>What GetStatus answers.</summary>
    public AgentStatusResponse Status { get => _service.Status; set => _service.Status = value; }

    public IReadOnlyList<LocalLaunchRequest> LaunchRequests => _service.Requests;

    public static async Task<FakeAgentDaemon> StartAsync(string socketPath)
    {
        var service = new Service();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc("unix:" + socketPath));
        builder.Services.AddGrpcServer();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<Service>();
        await app.StartAsync();
        return new FakeAgentDaemon(app, socketPath, service);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed class Service : LocalAgent.LocalAgentBase
    {
        private readonly List<LocalLaunchRequest> _requests = [];

        public Func<LocalLaunchRequest, LaunchResult> OnLaunch { get; set; } = r => new LaunchResult { LaunchId = r.LaunchId, Started = false, Error = "not set up" };

        public AgentStatusResponse Status { get; set; } = new() { AgentVersion = "0.1.0" };

        public IReadOnlyList<LocalLaunchRequest> Requests
        {
            get
            {
                lock (_requests)
                {
                    return [.. _requests];
                }
            }
        }

        public override Task<LaunchResult> Launch(LocalLaunchRequest request, ServerCallContext context)
        {
            lock (_requests)
            {
                _requests.Add(request);
            }

            return Task.FromResult(OnLaunch(request));
        }

        public override Task<AgentStatusResponse> GetStatus(AgentStatusRequest request, ServerCallContext context) => Task.FromResult(Status);
    }
}
