using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Channel.Tests.Infrastructure;

/// <summary>
/// A stand-in for relay-agent's LocalAgent service on a real Unix socket: it records everything channels send, answers
/// ChannelHello with an Attachment, and lets the test push prompts, verdicts and tool results. Replies are accepted
/// automatically unless <see cref="AcceptReplies"/> is off; tool calls are answered by <see cref="ToolHandler"/>.
/// Stop it and start another on the same socket to play an agent restart.
/// </summary>
internal sealed class AgentDouble : IAsyncDisposable
{
    private WebApplication? _app;

    private AgentDouble(string socketPath)
    {
        SocketPath = socketPath;
    }

    public string SocketPath { get; }

    /// <summary>Every message any channel sent, in arrival order.</summary>
    public MessageLog<ChannelMessage> Received { get; } = new();

    /// <summary>Every Attach stream that got as far as ChannelHello.</summary>
    public MessageLog<AttachedChannel> Streams { get; } = new();

    /// <summary>When true (the default), each ChannelReply is answered with ReplyAccepted.</summary>
    public bool AcceptReplies { get; set; } = true;

    /// <summary>When it returns a notice for a reply, the reply is refused with it instead of accepted.</summary>
    public Func<ChannelReply, Notice?>? RefuseReply { get; set; }

    /// <summary>Answers tool calls; null (the default) leaves them unanswered.</summary>
    public Func<ChannelToolCall, ChannelToolResult?>? ToolHandler { get; set; }

    /// <summary>The Attachment sent in answer to ChannelHello.</summary>
    public Attachment Attachment { get; set; } = new()
    {
        ChannelId = "ch-1",
        SessionId = "sess-1",
        Name = "tester",
        MachineId = "m-1",
        MachineName = "machine-1",
        BrokerConnected = true,
        MaxTextChars = 100_000,
    };

    private readonly HashSet<string> _acceptedReplies = new(StringComparer.Ordinal);

    public static async Task<AgentDouble> StartAsync(string socketPath)
    {
        var agent = new AgentDouble(socketPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenGrpc("unix:" + socketPath));
        builder.Services.AddGrpcServer();
        builder.Services.AddSingleton(agent);
        builder.Services.AddSingleton<LocalAgentDoubleService>();
        var app = builder.Build();
        app.MapGrpcService<LocalAgentDoubleService>();
        agent._app = app;
        await app.StartAsync();
        return agent;
    }

    /// <summary>The most recent stream that is still open, waiting for one if none is.</summary>
    public Task<AttachedChannel> WaitForStreamAsync(CancellationToken cancellationToken, int index = 0) =>
        Streams.WaitForAsync(s => s.Index >= index && !s.Closed.IsCompleted ? s : null, cancellationToken);

    /// <summary>Stops serving: open streams end, the socket goes away (as when relay-agent exits).</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await app.StopAsync(cts.Token);
            await app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    internal async Task RunStreamAsync(IAsyncStreamReader<ChannelMessage> requests, IServerStreamWriter<AgentToChannelMessage> responses, CancellationToken cancellationToken)
    {
        if (!await requests.MoveNext(cancellationToken) || requests.Current.BodyCase != ChannelMessage.BodyOneofCase.Hello)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "ChannelHello must come first."));
        }

        Received.Add(requests.Current);
        var stream = new AttachedChannel(Streams.Snapshot().Count, requests.Current.Hello);
        var writer = Task.Run(async () =>
        {
            await foreach (var message in stream.Outbound.Reader.ReadAllAsync(cancellationToken))
            {
                await responses.WriteAsync(message, cancellationToken);
            }
        }, cancellationToken);
        await stream.SendAsync(new AgentToChannelMessage { Attached = Attachment });
        Streams.Add(stream);
        try
        {
            while (await requests.MoveNext(cancellationToken))
            {
                var message = requests.Current;
                Received.Add(message);
                await AnswerAsync(stream, message);
            }
        }
        finally
        {
            stream.Outbound.Writer.TryComplete();
            stream.MarkClosed();
        }

        await writer;
    }

    private async Task AnswerAsync(AttachedChannel stream, ChannelMessage message)
    {
        switch (message.BodyCase)
        {
            case ChannelMessage.BodyOneofCase.Reply when RefuseReply?.Invoke(message.Reply) is { } notice:
                notice.RequestId = message.Reply.ReplyId;
                await stream.SendAsync(new AgentToChannelMessage { Notice = notice });
                break;
            case ChannelMessage.BodyOneofCase.Reply when AcceptReplies:
                bool duplicate;
                lock (_acceptedReplies)
                {
                    duplicate = !_acceptedReplies.Add(message.Reply.ReplyId);
                }

                await stream.SendAsync(new AgentToChannelMessage { ReplyAccepted = new ReplyAccepted { ReplyId = message.Reply.ReplyId, Duplicate = duplicate } });
                break;
            case ChannelMessage.BodyOneofCase.ToolCall when ToolHandler?.Invoke(message.ToolCall) is { } result:
                result.RequestId = message.ToolCall.RequestId;
                await stream.SendAsync(new AgentToChannelMessage { ToolResult = result });
                break;
        }
    }
}

/// <summary>One Attach stream of the double: its ChannelHello and a way to send to that channel.</summary>
internal sealed class AttachedChannel(int index, ChannelHello hello)
{
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Index { get; } = index;

    public ChannelHello Hello { get; } = hello;

    public Task Closed => _closed.Task;

    internal Channel<AgentToChannelMessage> Outbound { get; } = System.Threading.Channels.Channel.CreateBounded<AgentToChannelMessage>(64);

    public ValueTask SendAsync(AgentToChannelMessage message) => Outbound.Writer.WriteAsync(message);

    internal void MarkClosed() => _closed.TrySetResult();
}

/// <summary>The gRPC face of <see cref="AgentDouble"/>.</summary>
internal sealed class LocalAgentDoubleService(AgentDouble agent) : LocalAgent.LocalAgentBase
{
    public override Task Attach(IAsyncStreamReader<ChannelMessage> requestStream, IServerStreamWriter<AgentToChannelMessage> responseStream, ServerCallContext context) =>
        agent.RunStreamAsync(requestStream, responseStream, context.CancellationToken);
}
