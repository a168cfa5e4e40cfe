using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Relay.Agent.Config;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// <c>POST /hooks</c> (and <c>/hooks/{event}</c>) on the loopback HTTP/1.1 listener: Claude Code's <c>type: "http"</c>
/// hooks. Requires the hook secret header; answers 200 with the hook output JSON (<c>{}</c> for none) within the
/// event's answer bound; 400 for a body that is not a hook input, 401 without the secret, 413 for an oversized body.
/// Claude Code treats every non-2xx answer as a non-blocking error, so none of them stops Claude.
/// </summary>
internal static partial class HookEndpoint
{
    /// <summary>The path Claude Code's settings point at (<see cref="AgentConfig.HookUrl"/>).</summary>
    public const string Path = "/hooks";

    /// <summary>Maps the hook routes.</summary>
    public static IEndpointRouteBuilder MapHookEndpoint(this IEndpointRouteBuilder endpoints)
    {
        // Everything the handler needs is a singleton: resolved once here, not per hook from the request's services (the
        // first touch of HttpContext.RequestServices creates a DI scope for the request, and disposing it is another
        // async step after the answer).
        var services = endpoints.ServiceProvider;
        var dependencies = new Dependencies(
            services.GetRequiredService<TimeProvider>(),
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HookEndpoint).FullName!),
            services.GetRequiredService<HookSecret>(),
            services.GetRequiredService<IOptions<HookOptions>>().Value,
            services.GetRequiredService<HookProcessor>());
        RequestDelegate handle = context => HandleAsync(context, dependencies);
        endpoints.MapPost(Path, handle);
        endpoints.MapPost(Path + "/{event}", handle);
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext context, Dependencies dependencies)
    {
        var receivedAt = dependencies.Time.GetUtcNow();
        var logger = dependencies.Logger;

        // The hooks are served on the loopback TCP listener only, never on the Unix socket (that one is gRPC's).
        if (context.Connection.LocalIpAddress is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var presented = context.Request.Headers[AgentConfig.HookSecretHeader];
        if (!dependencies.Secret.Matches(presented.Count == 1 ? presented[0] : null))
        {
            Log.SecretRejected(logger, context.Connection.RemotePort, presented.Count > 0);
            await ErrorAsync(context, StatusCodes.Status401Unauthorized,
                "Missing or wrong " + AgentConfig.HookSecretHeader + " header. Run 'relay-agent install' to write the agent's current hook secret into Claude Code's settings.");
            return;
        }

        var options = dependencies.Options;
        byte[] body;
        try
        {
            body = await ReadBodyAsync(context, options.MaxRequestBytes);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            Log.BodyTooLarge(logger, options.MaxRequestBytes);
            await ErrorAsync(context, StatusCodes.Status413PayloadTooLarge,
                "The hook payload is larger than Agent:Hooks:MaxRequestBytes (" + options.MaxRequestBytes + " bytes).");
            return;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or BadHttpRequestException)
        {
            return;
        }

        var processor = dependencies.Processor;
        var eventId = Guid.CreateVersion7().ToString();
        HookResult result;
        try
        {
            var input = new HookInput(
                HookPayload.DecodeUtf8(body), body.Length, eventId, HookTransport.Http, ClaudePid: 0, LaunchId: null, ProjectDirectory: null,
                receivedAt, context.Request.RouteValues["event"] as string);
            result = await processor.ProcessAsync(input, context.RequestAborted);
        }
        catch (HookPayloadException ex)
        {
            Log.BadPayload(logger, ex.Message);
            await ErrorAsync(context, StatusCodes.Status400BadRequest, ex.Message);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        try
        {
            await context.Response.WriteAsync(result.OutputJson.Length > 0 ? result.OutputJson : "{}", context.RequestAborted);
            await context.Response.CompleteAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // Claude went away before the answer: what it carried was not delivered, so no commit.
            Log.AnswerNotWritten(logger, eventId);
            return;
        }

        if (result.Commit is { } commit)
        {
            await processor.CommitAsync(commit, eventId);
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpContext context, int limit)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        if (context.Request.ContentLength is { } length && length > limit)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }

        using var buffer = new MemoryStream(context.Request.ContentLength is { } known ? (int)known : 4096);
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        if (buffer.Length > limit)
        {
            throw new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge);
        }

        return buffer.ToArray();
    }

    private static Task ErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(new JsonObject { ["error"] = message }.ToJsonString(), context.RequestAborted);
    }

    /// <summary>The handler's singletons.</summary>
    private sealed record Dependencies(TimeProvider Time, ILogger Logger, HookSecret Secret, HookOptions Options, HookProcessor Processor);

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "Refused an http hook from loopback port {RemotePort}: secret header {Presence} (value not logged)")]
        private static partial void SecretRejectedCore(ILogger logger, int remotePort, string presence);

        public static void SecretRejected(ILogger logger, int remotePort, bool present) =>
            SecretRejectedCore(logger, remotePort, present ? "wrong" : "missing");

        [LoggerMessage(21, LogLevel.Warning, "Refused an http hook larger than {Limit} bytes (Agent:Hooks:MaxRequestBytes); the event is not recorded")]
        public static partial void BodyTooLarge(ILogger logger, int limit);

        [LoggerMessage(22, LogLevel.Warning, "Refused an http hook: {Reason}")]
        public static partial void BadPayload(ILogger logger, string reason);

        [LoggerMessage(23, LogLevel.Information, "Http hook {EventId}: the caller went away before the answer was written")]
        public static partial void AnswerNotWritten(ILogger logger, string eventId);
    }
}
