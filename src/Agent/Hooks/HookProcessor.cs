using System.Diagnostics;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// The one path every hook takes: parse and validate, attribute (<see cref="ISessionTracker"/>), ask the responder,
/// spool the HookEvent, answer — all within the event's answer bound (<see cref="HookOptions.BoundFor"/>).
/// </summary>
/// <remarks>
/// <para>
/// Order. HookEvent.response_json records what Claude was answered, and the contract has no message to add it to an
/// event already spooled. So the responder is asked first (cancelled <see cref="HookOptions.SpoolReserve"/> before
/// the bound), the event is spooled with its answer, and only then does the answer go out: an answer is never given
/// before the event that records it is durable.
/// </para>
/// <para>
/// Failing open. When the spool does not confirm within the bound (slow disk) the hook is answered with nothing and the
/// append goes on in the background: Claude is not held up, and the answer it got (nothing) carries no prompt or verdict
/// that the spool could have failed to record. The event's response_json then names an answer that was not given; the
/// responder's Commit is not called, so nothing is recorded as delivered. When the append fails outright (spool full of
/// items it may not drop, disk error) the hook is still answered with nothing, and the loss is logged as an error.
/// </para>
/// </remarks>
internal sealed partial class HookProcessor(
    ISessionTracker sessions,
    IHookResponder responder,
    IAgentSpool spool,
    IOptions<HookOptions> options,
    TimeProvider time,
    ILogger<HookProcessor> logger,
    IHttpContextAccessor? httpContextAccessor = null,
    Diagnostics.AgentTelemetry? telemetry = null) : IHookProcessor
{
    private readonly RecentEventIds _commandEventIds = new();
    private readonly HookOptions _options = options.Value;

    /// <inheritdoc />
    public async ValueTask<HookResponse> ProcessCommandHookAsync(HookRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.EventId) || request.EventId.Length > 128)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "HookRequest.event_id must be set (at most 128 characters)."));
        }

        var input = new HookInput(
            request.RawJson,
            Encoding.UTF8.GetByteCount(request.RawJson),
            request.EventId,
            request.Replayed ? HookTransport.CommandReplayed : HookTransport.Command,
            request.ClaudePid,
            NullIfEmpty(request.LaunchId),
            NullIfEmpty(request.ProjectDir),
            request.ReceivedAt is { } at ? at.ToDateTimeOffset() : time.GetUtcNow());

        if (!_commandEventIds.TryClaim(request.EventId))
        {
            Log.DuplicateCommandHook(logger, request.EventId);
            return new HookResponse();
        }

        HookResult result;
        try
        {
            result = await ProcessAsync(input, cancellationToken);
        }
        catch (HookPayloadException ex)
        {
            _commandEventIds.Release(request.EventId);
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        catch
        {
            _commandEventIds.Release(request.EventId);
            throw;
        }

        if (result.Commit is { } commit)
        {
            // The gRPC layer writes the response after this method returns: commit once it went out.
            if (httpContextAccessor?.HttpContext is { } http)
            {
                http.Response.OnCompleted(() => http.RequestAborted.IsCancellationRequested ? Task.CompletedTask : CommitAsync(commit, input.EventId));
            }
            else
            {
                await CommitAsync(commit, input.EventId);
            }
        }

        return new HookResponse { OutputJson = result.OutputJson };
    }

    /// <summary>
    /// Processes one hook and returns the answer; the caller writes it and then calls <see cref="HookResult.Commit"/>
    /// (see <see cref="CommitAsync"/>). A replayed command hook is spooled without a deadline and without asking the
    /// responder, and a spool failure is thrown so that its drop file is kept for the next pass.
    /// </summary>
    /// <exception cref="HookPayloadException">The payload is not a hook input.</exception>
    public async ValueTask<HookResult> ProcessAsync(HookInput input, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var (payload, eventName, sessionId) = HookPayload.Parse(input.RawJson, input.RouteEventName);
        using var activity = Diagnostics.AgentTelemetry.StartHook(eventName);
        var hook = new HookContext(
            input.EventId, eventName, sessionId, payload, input.RawJson, input.ClaudePid, input.LaunchId, input.ProjectDirectory,
            input.Transport, input.ReceivedAt, input.Replayed);
        var evidence = Observe(hook);
        var hookEvent = BuildEvent(hook, evidence, input.RawBytes);

        if (input.Replayed)
        {
            await spool.AppendAsync(Message(hookEvent), cancellationToken);
            Log.HookSpooled(logger, eventName, input.EventId, input.Transport, 0);
            return HookResult.Empty;
        }

        var bound = _options.BoundFor(eventName);
        var answer = await AskResponderAsync(hook, evidence, bound - _options.SpoolReserve, cancellationToken);
        var outputJson = answer.Output?.ToJsonString() ?? string.Empty;
        hookEvent.ResponseJson = outputJson;

        // Not cancelled with the request: once begun, the append finishes even when Claude gives up on the answer.
        var append = spool.AppendAsync(Message(hookEvent), CancellationToken.None).AsTask();
        var remaining = bound - time.GetElapsedTime(started);
        try
        {
            await append.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            Log.SpoolSlow(logger, eventName, input.EventId, bound.TotalMilliseconds);
            _ = append.ContinueWith(
                static (task, state) =>
                {
                    var (processor, name, id) = ((HookProcessor, string, string))state!;
                    processor.ReportLateAppend(task, name, id);
                },
                (this, eventName, input.EventId),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            return HookResult.Empty;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.SpoolFailed(logger, eventName, input.EventId, ex);
            return HookResult.Empty;
        }

        var elapsed = time.GetElapsedTime(started);
        Log.HookSpooled(logger, eventName, input.EventId, input.Transport, elapsed.TotalMilliseconds);
        telemetry?.HookAnswered(eventName, elapsed);
        return new HookResult(outputJson, answer.Commit);
    }

    /// <summary>Runs a responder's commit after its answer went out; failures are logged, never thrown.</summary>
    public async Task CommitAsync(Func<CancellationToken, ValueTask> commit, string eventId)
    {
        try
        {
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10), time);
            await commit(bound.Token);
        }
        catch (Exception ex)
        {
            Log.CommitFailed(logger, eventId, ex);
        }
    }

    private SessionEvidence Observe(HookContext hook)
    {
        SessionEvidence? evidence = null;
        try
        {
            evidence = sessions.ObserveHook(hook)?.Clone();
        }
        catch (Exception ex)
        {
            // Attribution is the broker's to finish; a tracker fault must not cost the event.
            Log.TrackerFailed(logger, hook.EventId, ex);
        }

        evidence ??= new SessionEvidence();
        if (evidence.ClaudeSessionId.Length == 0)
        {
            evidence.ClaudeSessionId = hook.ClaudeSessionId;
        }

        if (evidence.ClaudePid == 0)
        {
            evidence.ClaudePid = hook.ClaudePid;
        }

        if (evidence.LaunchId.Length == 0 && hook.LaunchId is { } launchId)
        {
            evidence.LaunchId = launchId;
        }

        if (evidence.Cwd.Length == 0)
        {
            evidence.Cwd = hook.WorkingDirectory;
        }

        if (evidence.ProjectDir.Length == 0 && hook.ProjectDirectory is { } projectDir)
        {
            evidence.ProjectDir = projectDir;
        }

        return evidence;
    }

    private HookEvent BuildEvent(HookContext hook, SessionEvidence evidence, long rawBytes)
    {
        var truncated = rawBytes > _options.MaxStoredPayloadBytes;
        return new HookEvent
        {
            EventId = hook.EventId,
            Session = evidence,
            HookEventName = hook.HookEventName,
            RawJson = truncated ? HookPayload.StandIn(hook.Payload, rawBytes, _options.MaxStoredPayloadBytes) : hook.RawJson,
            RawJsonTruncated = truncated,
            RawJsonSize = (ulong)rawBytes,
            Fields = HookPayload.Fields(hook.Payload, hook.HookEventName),
            Transport = hook.Transport,
            OccurredAt = Timestamp.FromDateTimeOffset(hook.ReceivedAt),
        };
    }

    private async ValueTask<HookAnswer> AskResponderAsync(HookContext hook, SessionEvidence evidence, TimeSpan budget, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(budget, time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            var task = responder.RespondAsync(hook, evidence, deadline.Token).AsTask();

            // WaitAsync as well as the token: a responder that ignores its token must not hold the hook either.
            return await task.WaitAsync(budget, time, cancellationToken);
        }
        catch (Exception ex) when ((ex is TimeoutException or OperationCanceledException) && !cancellationToken.IsCancellationRequested)
        {
            Log.ResponderLate(logger, hook.HookEventName, hook.EventId, budget.TotalMilliseconds);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.ResponderFailed(logger, hook.HookEventName, hook.EventId, ex);
        }
        finally
        {
            await deadline.CancelAsync();
        }

        return HookAnswer.None;
    }

    private void ReportLateAppend(Task append, string eventName, string eventId)
    {
        if (append.Exception is { } ex)
        {
            Log.SpoolFailed(logger, eventName, eventId, ex.GetBaseException());
        }
        else
        {
            Log.SpooledLate(logger, eventName, eventId);
        }
    }

    private static AgentMessage Message(HookEvent hookEvent) => new()
    {
        HookEvent = hookEvent,
        Traceparent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity ? activity.Id ?? string.Empty : string.Empty,
    };

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "{HookEventName} hook {EventId} ({Transport}) spooled and answered in {ElapsedMs:F1} ms")]
        public static partial void HookSpooled(ILogger logger, string hookEventName, string eventId, HookTransport transport, double elapsedMs);

        [LoggerMessage(2, LogLevel.Warning, "{HookEventName} hook {EventId}: the responder did not answer within {BudgetMs} ms; answering nothing")]
        public static partial void ResponderLate(ILogger logger, string hookEventName, string eventId, double budgetMs);

        [LoggerMessage(3, LogLevel.Error, "{HookEventName} hook {EventId}: the responder failed; answering nothing")]
        public static partial void ResponderFailed(ILogger logger, string hookEventName, string eventId, Exception exception);

        [LoggerMessage(4, LogLevel.Warning, "{HookEventName} hook {EventId}: the spool did not confirm within the {BoundMs} ms bound; answered nothing, the event is still being written")]
        public static partial void SpoolSlow(ILogger logger, string hookEventName, string eventId, double boundMs);

        [LoggerMessage(5, LogLevel.Error, "{HookEventName} hook {EventId} COULD NOT BE SPOOLED and is lost to the broker (answered nothing so Claude goes on)")]
        public static partial void SpoolFailed(ILogger logger, string hookEventName, string eventId, Exception exception);

        [LoggerMessage(6, LogLevel.Error, "Hook {EventId}: the session tracker failed; the event is spooled with the evidence of its payload")]
        public static partial void TrackerFailed(ILogger logger, string eventId, Exception exception);

        [LoggerMessage(7, LogLevel.Error, "Hook {EventId}: recording what its answer delivered failed")]
        public static partial void CommitFailed(ILogger logger, string eventId, Exception exception);

        [LoggerMessage(9, LogLevel.Information, "{HookEventName} hook {EventId}: spooled after its bound")]
        public static partial void SpooledLate(ILogger logger, string hookEventName, string eventId);

        [LoggerMessage(8, LogLevel.Debug, "Command hook {EventId} was spooled before (a replay of an answered hook); skipped")]
        public static partial void DuplicateCommandHook(ILogger logger, string eventId);
    }
}
