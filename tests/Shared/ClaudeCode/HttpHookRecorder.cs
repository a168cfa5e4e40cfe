using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Relay.Tests.Shared.ClaudeCode;

/// <summary>
/// An HTTP endpoint on loopback for <c>type: "http"</c> hooks: records each POST (body and headers) under
/// <c>/hooks/&lt;Event&gt;</c> and answers with what <see cref="Respond"/> returns (empty 200 = no decision).
/// </summary>
public sealed class HttpHookRecorder : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<RecordedHook> _calls = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopbackHttpServer? _server;

    private HttpHookRecorder()
    {
    }

    /// <summary>Decides the response body for a call; null gives an empty 200.</summary>
    public Func<RecordedHook, JsonNode?>? Respond { get; set; }

    public Uri BaseUrl => _server?.BaseUrl ?? throw new InvalidOperationException("The recorder is not started.");

    public static async Task<HttpHookRecorder> StartAsync(CancellationToken cancellationToken = default)
    {
        var recorder = new HttpHookRecorder();
        recorder._server = await LoopbackHttpServer.StartAsync(recorder.HandleAsync, cancellationToken);
        return recorder;
    }

    /// <summary>The URL to configure for an event.</summary>
    public Uri UrlFor(string hookEvent) => new(BaseUrl, "hooks/" + hookEvent);

    /// <summary>Adds an http hook for each event to <paramref name="settings"/>, with optional headers.</summary>
    public HookSettings AddTo(
        HookSettings settings, IReadOnlyDictionary<string, string>? headers, IReadOnlyList<string>? allowedEnvVars, params string[] hookEvents)
    {
        foreach (var hookEvent in hookEvents)
        {
            settings.Http(hookEvent, UrlFor(hookEvent), headers, allowedEnvVars);
        }

        return settings;
    }

    /// <summary>Every call so far, in arrival order.</summary>
    public IReadOnlyList<RecordedHook> All()
    {
        lock (_gate)
        {
            return _calls.ToList();
        }
    }

    /// <summary>The calls for one event, in arrival order.</summary>
    public IReadOnlyList<RecordedHook> Of(string hookEvent) => All().Where(h => h.Event == hookEvent).ToList();

    /// <summary>Waits (bounded by the token) for a call matching <paramref name="predicate"/>.</summary>
    public async Task<RecordedHook> WaitForAsync(Func<RecordedHook, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                var match = _calls.FirstOrDefault(predicate);
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

    private async Task HandleAsync(HttpContext context)
    {
        string raw;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            raw = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var path = context.Request.Path.Value ?? "/";
        var hookEvent = path.StartsWith("/hooks/", StringComparison.Ordinal) ? path["/hooks/".Length..] : path;
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
        var call = new RecordedHook(hookEvent, StubRequest.ParseBody(raw) ?? new JsonObject { ["raw"] = raw }, headers);
        lock (_gate)
        {
            _calls.Add(call);
            _changed.TrySetResult();
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var answer = Respond?.Invoke(call);
        context.Response.StatusCode = 200;
        if (answer is not null)
        {
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer.ToJsonString(), context.RequestAborted);
        }
    }
}
