using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>
/// Npgsql's command log ("Npgsql.Command", Debug: one entry per command or batch sent, so per round trip), each entry
/// with the path of the request whose work sent it: the request's HttpContext flows with the async work that serves it
/// (<see cref="IHttpContextAccessor"/>), while the broker's background work and other calls have another path or none.
/// So a test can count one call's round trips while streams, timers and sweeps use the database too.
/// </summary>
internal sealed class RequestCommandLog : ILoggerProvider
{
    private readonly HttpContextAccessor _requests = new();
    private readonly ConcurrentQueue<(string? Path, string Message)> _entries = new();

    /// <summary>Every command logged so far, in order, with its request's path (null outside any request).</summary>
    public IReadOnlyCollection<(string? Path, string Message)> Entries => _entries;

    /// <summary>Captures <paramref name="builder"/>'s Npgsql command log into a new log.</summary>
    public static RequestCommandLog Capture(WebApplicationBuilder builder)
    {
        var log = new RequestCommandLog();
        // The accessor is what makes the host record each request's HttpContext where its async work can see it.
        builder.Services.AddHttpContextAccessor();
        builder.Logging.AddProvider(log).AddFilter<RequestCommandLog>(category: "Npgsql.Command", level: LogLevel.Debug);
        return log;
    }

    /// <summary>The commands sent for calls of the gRPC method named <paramref name="method"/> (e.g. "SendPrompt").</summary>
    public List<string> Of(string method) =>
        _entries.Where(e => e.Path is { } path && path.EndsWith("/" + method, StringComparison.Ordinal)).Select(e => e.Message).ToList();

    public ILogger CreateLogger(string categoryName) => categoryName == "Npgsql.Command" ? new Logger(this) : NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Logger(RequestCommandLog log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log._entries.Enqueue((log._requests.HttpContext?.Request.Path.Value, formatter(state, exception)));
    }

    private sealed class NullLogger : ILogger
    {
        public static readonly NullLogger Instance = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
