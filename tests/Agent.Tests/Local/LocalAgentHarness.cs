using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Relay.Agent.Config;
using Relay.Agent.Hooks;
using Relay.Agent.Launch;
using Relay.Agent.Link;
using Relay.Agent.Local;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Agent.Tests.Local.Fakes;
using Relay.Grpc;
using Relay.Protocol.V1;
using Relay.Tests.Shared;

namespace Relay.Agent.Tests.Local;

/// <summary>How a <see cref="LocalAgentHarness"/> is built.</summary>
internal sealed class HarnessOptions
{
    /// <summary>An existing directory to keep state in (to restart an agent on the same state); null = a new one.</summary>
    public string? Directory { get; set; }

    /// <summary>Look processes up in /proc instead of making them up.</summary>
    public bool RealProcesses { get; set; }

    public Action<LocalAgentOptions>? Configure { get; set; }

    /// <summary>How the prompt journal is made durable, for a test that holds or fails its fsync; null = an fsync.</summary>
    public Action<FileStream>? PromptJournalFlush { get; set; }
}

/// <summary>
/// The local side as <c>relay-agent run</c> wires it (AddLocalAgent), with in-memory fakes for the spool, the broker
/// link, the launcher and the hook processor, a manual clock, and LocalAgentService on a real Unix socket (Kestrel).
/// </summary>
internal sealed class LocalAgentHarness : IAsyncDisposable
{
    private readonly bool _ownsDirectory;
    private GrpcChannel? _channel;

    private LocalAgentHarness(string directory, bool ownsDirectory)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "a.sock");

    public ManualTimeProvider Time { get; } = new();

    public FakeSpool Spool { get; } = new();

    public FakeBrokerLink Link { get; } = new();

    public FakeLauncher Launcher { get; } = new();

    public FakeHookProcessor HookProcessor { get; } = new();

    public FakeProcessProbe Probe { get; } = new();

    public WebApplication App { get; private set; } = null!;

    public LocalAgent.LocalAgentClient Client => new(_channel ??= GrpcChannel.ForAddress("unix:" + SocketPath));

    public static async Task<LocalAgentHarness> StartAsync(Action<HarnessOptions>? configure = null)
    {
        var options = new HarnessOptions();
        configure?.Invoke(options);
        // Unix socket paths are limited to ~108 bytes: a short temporary directory.
        var harness = new LocalAgentHarness(options.Directory ?? System.IO.Directory.CreateTempSubdirectory("rla").FullName, options.Directory is null);
        await harness.StartCoreAsync(options);
        return harness;
    }

    public T Get<T>()
        where T : notnull => App.Services.GetRequiredService<T>();

    /// <summary>Opens an Attach stream, sends <paramref name="hello"/> and reads the attachment.</summary>
    public Task<TestChannel> AttachAsync(ChannelHello hello, CancellationToken cancellationToken) =>
        TestChannel.OpenAsync(Client, hello, cancellationToken);

    /// <summary>A hook as the hook processor handles it: observed by the tracker, answered, and committed when answered.</summary>
    public async Task<HookAnswer> HookAsync(
        string eventName, string claudeSessionId, int pid = 0, JsonObject? fields = null, string? launchId = null, bool commit = true, CancellationToken cancellationToken = default)
    {
        var payload = new JsonObject { ["session_id"] = claudeSessionId, ["hook_event_name"] = eventName, ["cwd"] = "/work/project" };
        foreach (var field in fields ?? [])
        {
            payload[field.Key] = field.Value?.DeepClone();
        }

        var hook = new HookContext(
            Guid.NewGuid().ToString("D"), eventName, claudeSessionId, payload, payload.ToJsonString(), pid, launchId, "/work/project",
            pid > 0 ? HookTransport.Command : HookTransport.Http, Time.GetUtcNow(), Replayed: false);
        var evidence = Get<ISessionTracker>().ObserveHook(hook);
        var answer = await Get<IHookResponder>().RespondAsync(hook, evidence, cancellationToken);
        if (commit && answer.Commit is not null)
        {
            await answer.Commit(cancellationToken);
        }

        return answer;
    }

    /// <summary>A sequenced message from the broker, as the link hands it over.</summary>
    public ValueTask InboundAsync(BrokerMessage message, CancellationToken cancellationToken) =>
        Get<IBrokerInbound>().HandleSequencedAsync(message, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _channel?.Dispose();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await App.StopAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await App.DisposeAsync();
        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task StartCoreAsync(HarnessOptions options)
    {
        var config = new AgentConfigStore(Path.Combine(Directory, "config"));
        config.Save(new AgentConfig { BrokerAddress = "https://broker.test:7443", MachineId = "m-1", MachineName = "devbox", Credential = "c", HookPort = 7471 });

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<TimeProvider>(Time);
        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton<IAgentSpool>(Spool);
        builder.Services.AddSingleton<IBrokerLink>(Link);
        builder.Services.AddSingleton<ISessionLauncher>(Launcher);
        builder.Services.AddSingleton<IHookProcessor>(HookProcessor);
        if (!options.RealProcesses)
        {
            builder.Services.AddSingleton<IProcessProbe>(Probe);
        }

        if (options.PromptJournalFlush is { } flush)
        {
            builder.Services.AddSingleton(sp => new PromptStore(sp.GetRequiredService<LocalStateDirectory>(), flush));
        }

        builder.Services.AddLocalAgent();
        builder.Services.Configure<LocalAgentOptions>(o =>
        {
            o.StateDirectory = Path.Combine(Directory, "state");
            o.SocketPath = SocketPath;
            o.DefaultLaunchDirectory = Directory;
            options.Configure?.Invoke(o);
        });
        builder.Services.AddGrpcServer();
        builder.WebHost.ConfigureKestrel(k => k.ListenGrpc("unix:" + SocketPath));
        App = builder.Build();
        App.MapGrpcService<LocalAgentService>();
        await App.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }
}

/// <summary>A relay-channel's Attach stream, from the channel's side.</summary>
internal sealed class TestChannel : IDisposable
{
    private TestChannel(AsyncDuplexStreamingCall<ChannelMessage, AgentToChannelMessage> call, Attachment attachment)
    {
        Call = call;
        Attachment = attachment;
    }

    public AsyncDuplexStreamingCall<ChannelMessage, AgentToChannelMessage> Call { get; }

    public Attachment Attachment { get; }

    public static async Task<TestChannel> OpenAsync(LocalAgent.LocalAgentClient client, ChannelHello hello, CancellationToken cancellationToken)
    {
        var call = client.AttachAsync(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new ChannelMessage { Hello = hello }, cancellationToken);
        if (!await call.ResponseStream.MoveNext(cancellationToken))
        {
            throw new InvalidOperationException("The agent ended Attach before the attachment: " + call.GetStatus());
        }

        var first = call.ResponseStream.Current;
        first.BodyCase.Should().Be(AgentToChannelMessage.BodyOneofCase.Attached);
        return new TestChannel(call, first.Attached);
    }

    public Task SendAsync(ChannelMessage message, CancellationToken cancellationToken) =>
        Call.RequestStream.WriteAsync(message, cancellationToken);

    public async Task<AgentToChannelMessage> ReadAsync(CancellationToken cancellationToken)
    {
        if (!await Call.ResponseStream.MoveNext(cancellationToken))
        {
            throw new InvalidOperationException("The agent ended Attach: " + Call.GetStatus());
        }

        return Call.ResponseStream.Current;
    }

    /// <summary>Reads (at most 100 messages) until one that <paramref name="match"/> accepts.</summary>
    public async Task<AgentToChannelMessage> ReadUntilAsync(Func<AgentToChannelMessage, bool> match, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 100; i++)
        {
            var message = await ReadAsync(cancellationToken);
            if (match(message))
            {
                return message;
            }
        }

        throw new InvalidOperationException("No matching message within 100.");
    }

    /// <summary>True when the agent ended the stream (after reading what was left, at most 100 messages).</summary>
    public async Task<bool> EndsAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < 100; i++)
        {
            if (!await Call.ResponseStream.MoveNext(cancellationToken))
            {
                return true;
            }
        }

        return false;
    }

    public void Dispose() => Call.Dispose();
}

/// <summary>Builders for the messages the tests send.</summary>
internal static class Messages
{
    public static ChannelHello Hello(int pid, string claudeSessionId, string launchId = "", bool reattach = false) => new()
    {
        ClaudePid = pid,
        ClaudeSessionId = claudeSessionId,
        LaunchId = launchId,
        Cwd = "/work/project",
        ChannelVersion = "0.1.0",
        ChannelPid = pid + 1,
        Reattach = reattach,
    };

    public static PromptDelivery Prompt(string sessionId = "", string claudeSessionId = "", string text = "please run the tests", string? promptId = null) => new()
    {
        PromptId = promptId ?? Guid.NewGuid().ToString("D"),
        SessionId = sessionId,
        ClaudeSessionId = claudeSessionId,
        Text = text,
        Sender = new Principal { Kind = PrincipalKind.User, Id = "tok-1", DisplayName = "alice" },
        SentAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
    };

    public static ChannelMessage Ack(string promptId, bool duplicate = false) => new()
    {
        PromptAck = new PromptAck { PromptId = promptId, Duplicate = duplicate, WrittenAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow) },
    };

    public static string NewClaudeId() => Guid.NewGuid().ToString("D");
}
