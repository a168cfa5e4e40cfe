using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;

namespace Relay.Agent.Tests.Spool;

/// <summary>Keeps the event ids of what was logged, so a test can tell whether a warning was given.</summary>
internal sealed class RecordingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<EventId> Events { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Events.Enqueue(eventId);
}
