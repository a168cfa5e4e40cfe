using Microsoft.Extensions.DependencyInjection.Extensions;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Relay.Agent.Config;
using Relay.Agent.Hooks;
using Relay.Agent.Hosting;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>
/// A real agent daemon (<see cref="AgentApplication"/>, real Unix socket and loopback HTTP) in the test process, with fakes
/// in place of what other features build: the spool, the session tracker and the responder. Its config, state and socket
/// live in a private temporary directory.
/// </summary>
internal sealed class TestAgent : IAsyncDisposable
{
    private readonly TempDirectory? _ownedRoot;

    private TestAgent(WebApplication app, TestAgentPaths paths, TempDirectory? ownedRoot)
    {
        App = app;
        Paths = paths;
        _ownedRoot = ownedRoot;
        Spool = app.Services.GetRequiredService<FakeSpool>();
        Responder = app.Services.GetRequiredService<FakeResponder>();
        Tracker = app.Services.GetRequiredService<FakeSessionTracker>();
        State = app.Services.GetRequiredService<TestLocalAgentState>();
        Endpoints = app.Services.GetRequiredService<LocalEndpoints>();
        Secret = new AgentConfigStore(paths.ConfigDirectory).Load().HookSecret!;
        Http = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:" + Endpoints.HookPort), Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public TestAgentPaths Paths { get; }

    public FakeSpool Spool { get; }

    public FakeResponder Responder { get; }

    public FakeSessionTracker Tracker { get; }

    public TestLocalAgentState State { get; }

    public LocalEndpoints Endpoints { get; }

    public string Secret { get; }

    public HttpClient Http { get; }

    /// <summary>Starts an agent in fresh directories (or in <paramref name="paths"/>).</summary>
    public static async Task<TestAgent> StartAsync(
        CancellationToken cancellationToken,
        TestAgentPaths? paths = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        FakeSpool? spool = null)
    {
        var root = paths is null ? new TempDirectory("relay-agent-test-") : null;
        paths ??= TestAgentPaths.Create(root!.Path);
        var app = Build(paths, settings, spool);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            root?.Dispose();
            throw;
        }

        return new TestAgent(app, paths, root);
    }

    /// <summary>Builds (does not start) an agent on <paramref name="paths"/>; throws what <see cref="AgentApplication.Build"/> throws.</summary>
    public static WebApplication Build(TestAgentPaths paths, IReadOnlyDictionary<string, string?>? settings = null, FakeSpool? spool = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Agent:SocketPath"] = paths.Socket,
            ["Agent:HookPort"] = "0",
            // The real features run beside the fakes (link, local side): keep their files in the test's directory.
            ["Agent:Link:StateDirectory"] = paths.StateDirectory,
            ["Agent:Local:StateDirectory"] = paths.StateDirectory,
            ["Agent:Spool:Directory"] = Path.Combine(paths.StateDirectory, "spool"),
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return AgentApplication.Build(all, builder =>
        {
            builder.Services.AddSingleton(new AgentConfigStore(paths.ConfigDirectory));
            builder.Services.AddSingleton(new HookDropLocation(paths.DropDirectory));
            builder.Services.AddSingleton(spool ?? new FakeSpool());
            builder.Services.AddSingleton<IAgentSpool>(sp => sp.GetRequiredService<FakeSpool>());
            builder.Services.AddSingleton<FakeSessionTracker>();
            builder.Services.AddSingleton<ISessionTracker>(sp => sp.GetRequiredService<FakeSessionTracker>());
            builder.Services.AddSingleton<FakeResponder>();
            builder.Services.AddSingleton<IHookResponder>(sp => sp.GetRequiredService<FakeResponder>());
            builder.Services.AddSingleton<TestLocalAgentState>();
            // The test's LocalAgent service answers on the socket instead of the real one.
            builder.Services.RemoveAll<LocalGrpcService>();
            builder.Services.AddLocalGrpcService<TestLocalAgentService>();
        });
    }

    /// <summary>POSTs <paramref name="json"/> to <c>/hooks</c> with the agent's secret (or <paramref name="secret"/>; null for none).</summary>
    public async Task<HttpResponseMessage> PostHookAsync(string json, CancellationToken cancellationToken, string? secret = "", string path = HookEndpoint.Path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (secret is not null)
        {
            request.Headers.Add(AgentConfig.HookSecretHeader, secret.Length == 0 ? Secret : secret);
        }

        return await Http.SendAsync(request, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
        _ownedRoot?.Dispose();
    }
}

/// <summary>The directories of a test agent (and of the hook client processes that talk to it).</summary>
internal sealed record TestAgentPaths(string Root, string ConfigDirectory, string StateDirectory, string SocketDirectory)
{
    public string Socket => Path.Combine(SocketDirectory, "agent.sock");

    public string DropDirectory => Path.Combine(StateDirectory, "hook-drop");

    public static TestAgentPaths Create(string root)
    {
        Directory.CreateDirectory(root);
        return new TestAgentPaths(root, Path.Combine(root, "config"), Path.Combine(root, "state"), Path.Combine(root, "run"));
    }

    /// <summary>The environment a hook client needs to find this agent.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["RELAY_AGENT_SOCKET"] = Socket,
        ["RELAY_AGENT_STATE_DIR"] = StateDirectory,
        ["RELAY_AGENT_CONFIG_DIR"] = ConfigDirectory,
    };
}
