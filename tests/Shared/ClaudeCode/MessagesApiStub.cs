using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// A scripted stand-in for the Anthropic Messages API on loopback, for the real Claude Code CLI
/// (<c>ANTHROPIC_BASE_URL</c> = <see cref="BaseUrl"/>). Each conversation step Claude Code sends
/// (<c>POST /v1/messages</c> with tools) takes the next scripted <see cref="StubTurn"/>, answered as an SSE stream
/// exactly as the real API frames it; when the script is empty, <see cref="Fallback"/> decides, and without one the
/// stub ends the turn with text so Claude finishes. Side requests (no tools: titles, summaries) get plain text and do
/// not consume the script. Every request is recorded so tests can assert what Claude Code sent.
/// </summary>
public sealed class MessagesApiStub : IAsyncDisposable
{
    /// <summary>The text of the end_turn answer once the script is exhausted.</summary>
    public const string ExhaustedText = "Done.";

    private readonly Lock _gate = new();
    private readonly Queue<Func<StubRequest, StubTurn>> _script = new();
    private readonly List<StubRequest> _requests = [];
    private TaskCompletionSource _changed = NewSignal();
    private LoopbackHttpServer? _server;

    private MessagesApiStub()
    {
    }

    /// <summary>e.g. <c>http://127.0.0.1:41234/</c>; give it to Claude Code as <c>ANTHROPIC_BASE_URL</c>.</summary>
    public Uri BaseUrl => _server?.BaseUrl ?? throw new InvalidOperationException("The stub is not started.");

    /// <summary>
    /// Consulted for a conversation step when the script is empty; return null for the default end_turn text.
    /// Not consumed: it answers every later step too (e.g. "when the hook-injected prompt shows up, reply").
    /// </summary>
    public Func<StubRequest, StubTurn?>? Fallback { get; set; }

    /// <summary>The text side requests (no tools) get.</summary>
    public string SideRequestText { get; set; } = "Stub side answer";

    /// <summary>The summary compaction requests get (Claude Code wants it inside &lt;summary&gt; tags).</summary>
    public string CompactionSummary { get; set; } = "The conversation so far was summarised by the stub.";

    /// <summary>The model name echoed in answers when the request names none.</summary>
    public string Model { get; set; } = "claude-stub";

    /// <summary>Scripted turns not yet used.</summary>
    public int PendingTurns
    {
        get
        {
            lock (_gate)
            {
                return _script.Count;
            }
        }
    }

    /// <summary>Every request received so far, in arrival order.</summary>
    public IReadOnlyList<StubRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return _requests.ToList();
            }
        }
    }

    /// <summary>The conversation steps (<see cref="StubRequestKind.Turn"/>) received so far.</summary>
    public IReadOnlyList<StubRequest> TurnRequests => Requests.Where(r => r.Kind == StubRequestKind.Turn).ToList();

    public static async Task<MessagesApiStub> StartAsync(CancellationToken cancellationToken = default)
    {
        var stub = new MessagesApiStub();
        stub._server = await LoopbackHttpServer.StartAsync(stub.HandleAsync, cancellationToken);
        return stub;
    }

    /// <summary>Appends a fixed turn to the script.</summary>
    public MessagesApiStub Enqueue(StubTurn turn) => Enqueue(_ => turn);

    /// <summary>Appends a turn computed from the request it answers (e.g. look for hook-injected context).</summary>
    public MessagesApiStub Enqueue(Func<StubRequest, StubTurn> answer)
    {
        lock (_gate)
        {
            _script.Enqueue(answer);
        }

        return this;
    }

    /// <summary>Appends a text answer (Claude ends its turn).</summary>
    public MessagesApiStub EnqueueText(string text) => Enqueue(StubTurn.Text(text));

    /// <summary>Appends a tool call (Claude runs the tool and sends the result in its next request).</summary>
    public MessagesApiStub EnqueueToolUse(string toolName, object input) => Enqueue(StubTurn.ToolUse(toolName, input));

    /// <summary>Waits (bounded by the token) until a request matching <paramref name="predicate"/> has arrived.</summary>
    public async Task<StubRequest> WaitForRequestAsync(Func<StubRequest, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var match = _requests.FirstOrDefault(predicate);
                if (match is not null)
                {
                    return match;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    // 2.1.328's compaction prompt is the last user message and opens with this sentence; it retries once when the
    // answer has no <summary> block.
    private static bool IsCompaction(JsonObject? body) =>
        body?["messages"] is JsonArray { Count: > 0 } messages
        && messages[^1]?["content"] is JsonValue content
        && content.TryGetValue<string>(out var text)
        && text.StartsWith("CRITICAL: Respond with TEXT ONLY", StringComparison.Ordinal)
        && text.Contains("<summary>", StringComparison.Ordinal);

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string raw;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            raw = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var path = request.Path.Value ?? "/";
        var body = StubRequest.ParseBody(raw);
        var kind = (request.Method, path) switch
        {
            ("POST", "/v1/messages/count_tokens") => StubRequestKind.CountTokens,
            ("POST", "/v1/messages") when IsCompaction(body) => StubRequestKind.Compaction,
            ("POST", "/v1/messages") when body?["tools"] is JsonArray { Count: > 0 } => StubRequestKind.Turn,
            ("POST", "/v1/messages") => StubRequestKind.Side,
            _ => StubRequestKind.Other,
        };
        var headers = request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);

        StubRequest recorded;
        Func<StubRequest, StubTurn>? scripted = null;
        lock (_gate)
        {
            recorded = new StubRequest(_requests.Count, kind, request.Method, path + request.QueryString, headers, raw, body);
            if (kind == StubRequestKind.Turn)
            {
                scripted = _script.TryDequeue(out var next) ? next : null;
            }

            _requests.Add(recorded);
            _changed.TrySetResult();
            _changed = NewSignal();
        }

        switch (kind)
        {
            case StubRequestKind.Turn:
                var turn = scripted?.Invoke(recorded) ?? Fallback?.Invoke(recorded) ?? StubTurn.Text(ExhaustedText);
                await AnswerAsync(context, recorded, turn);
                break;
            case StubRequestKind.Side:
                await AnswerAsync(context, recorded, StubTurn.Text(SideRequestText));
                break;
            case StubRequestKind.Compaction:
                await AnswerAsync(context, recorded, StubTurn.Text($"<analysis>Stub.</analysis>\n<summary>{CompactionSummary}</summary>"));
                break;
            case StubRequestKind.CountTokens:
                await WriteJsonAsync(context, 200, new JsonObject { ["input_tokens"] = Math.Max(1, raw.Length / 4) });
                break;
            default:
                await AnswerOtherAsync(context, path);
                break;
        }
    }

    private async Task AnswerAsync(HttpContext context, StubRequest request, StubTurn turn)
    {
        if (turn.Error is { } error)
        {
            await WriteJsonAsync(context, error.StatusCode, new JsonObject
            {
                ["type"] = "error",
                ["error"] = new JsonObject { ["type"] = error.Type, ["message"] = error.Message },
            });
            return;
        }

        var model = (string?)request.Body?["model"] ?? Model;
        var messageId = $"msg_stub_{request.Index:D4}";
        var inputTokens = Math.Max(1, request.RawBody.Length / 4);
        if (request.Body?["stream"] is JsonValue stream && stream.TryGetValue<bool>(out var streaming) && streaming)
        {
            await StreamAsync(context, turn, model, messageId, inputTokens);
        }
        else
        {
            await WriteJsonAsync(context, 200, MessageJson(turn, model, messageId, inputTokens));
        }
    }

    // The SSE framing of the real API: message_start, then per block content_block_start / _delta… / _stop
    // (tool input as input_json_delta fragments of its JSON), then message_delta with stop_reason and message_stop.
    private static async Task StreamAsync(HttpContext context, StubTurn turn, string model, string messageId, int inputTokens)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["request-id"] = "req_" + messageId;
        var ct = context.RequestAborted;

        var start = MessageJson(StubTurn.Of(), model, messageId, inputTokens);
        start["stop_reason"] = null;
        start["usage"]!["output_tokens"] = 1;
        await SendAsync(response, "message_start", new JsonObject { ["type"] = "message_start", ["message"] = start }, ct);
        var outputTokens = 1;
        for (var index = 0; index < turn.Blocks.Count; index++)
        {
            switch (turn.Blocks[index])
            {
                case StubTextBlock text:
                    await SendAsync(response, "content_block_start", BlockStart(index, new JsonObject { ["type"] = "text", ["text"] = string.Empty }), ct);
                    foreach (var chunk in Halves(text.Text))
                    {
                        await SendAsync(response, "content_block_delta", Delta(index, new JsonObject { ["type"] = "text_delta", ["text"] = chunk }), ct);
                    }

                    outputTokens += Math.Max(1, text.Text.Length / 4);
                    break;
                case StubToolUseBlock tool:
                    var block = new JsonObject { ["type"] = "tool_use", ["id"] = tool.Id, ["name"] = tool.Name, ["input"] = new JsonObject() };
                    await SendAsync(response, "content_block_start", BlockStart(index, block), ct);
                    var json = tool.Input.ToJsonString();
                    foreach (var chunk in Halves(json))
                    {
                        await SendAsync(response, "content_block_delta", Delta(index, new JsonObject { ["type"] = "input_json_delta", ["partial_json"] = chunk }), ct);
                    }

                    outputTokens += Math.Max(1, json.Length / 4);
                    break;
            }

            await SendAsync(response, "content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = index }, ct);
        }

        await SendAsync(response, "message_delta", new JsonObject
        {
            ["type"] = "message_delta",
            ["delta"] = new JsonObject { ["stop_reason"] = turn.StopReason, ["stop_sequence"] = null },
            ["usage"] = new JsonObject { ["output_tokens"] = outputTokens },
        }, ct);
        await SendAsync(response, "message_stop", new JsonObject { ["type"] = "message_stop" }, ct);
    }

    private static JsonObject MessageJson(StubTurn turn, string model, string messageId, int inputTokens)
    {
        var content = new JsonArray();
        foreach (var block in turn.Blocks)
        {
            content.Add(block switch
            {
                StubTextBlock text => new JsonObject { ["type"] = "text", ["text"] = text.Text },
                StubToolUseBlock tool => new JsonObject { ["type"] = "tool_use", ["id"] = tool.Id, ["name"] = tool.Name, ["input"] = tool.Input.DeepClone() },
                _ => throw new InvalidOperationException($"Unknown block {block}."),
            });
        }

        return new JsonObject
        {
            ["id"] = messageId,
            ["type"] = "message",
            ["role"] = "assistant",
            ["model"] = model,
            ["content"] = content,
            ["stop_reason"] = turn.StopReason,
            ["stop_sequence"] = null,
            ["usage"] = new JsonObject
            {
                ["input_tokens"] = inputTokens,
                ["output_tokens"] = 1,
                ["cache_creation_input_tokens"] = 0,
                ["cache_read_input_tokens"] = 0,
            },
        };
    }

    private static JsonObject BlockStart(int index, JsonObject block) =>
        new() { ["type"] = "content_block_start", ["index"] = index, ["content_block"] = block };

    private static JsonObject Delta(int index, JsonObject delta) =>
        new() { ["type"] = "content_block_delta", ["index"] = index, ["delta"] = delta };

    // Two fragments, so the client really has to join deltas (as it must with the real API).
    private static IEnumerable<string> Halves(string text) =>
        text.Length < 2 ? [text] : [text[..(text.Length / 2)], text[(text.Length / 2)..]];

    private static async Task SendAsync(HttpResponse response, string eventName, JsonObject data, CancellationToken ct)
    {
        await response.WriteAsync($"event: {eventName}\ndata: {data.ToJsonString()}\n\n", ct);
        await response.Body.FlushAsync(ct);
    }

    private static async Task AnswerOtherAsync(HttpContext context, string path)
    {
        // Model listing is the one other call worth a real shape; everything else gets an empty success.
        if (path.StartsWith("/v1/models", StringComparison.Ordinal))
        {
            await WriteJsonAsync(context, 200, new JsonObject { ["data"] = new JsonArray(), ["has_more"] = false, ["first_id"] = null, ["last_id"] = null });
            return;
        }

        await WriteJsonAsync(context, 200, []);
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, JsonObject body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(JsonOptions), context.RequestAborted);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}
