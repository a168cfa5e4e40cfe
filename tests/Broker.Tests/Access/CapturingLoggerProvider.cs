using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Relay.Broker.Tests.Access;

/// <summary>Collects every formatted log message (and exception text) so tests can assert what was, and was never, logged.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _messages = new();
    private readonly ConcurrentQueue<(string Category, string Message, long? ConnectorId)> _entries = new();
    private readonly Waiters _waiters = new();

    public IReadOnlyCollection<string> Messages => _messages;

    /// <summary>
    /// The same messages with the category of the logger that wrote each one and, for Npgsql's, the physical connection
    /// (its ConnectorId), in order.
    /// </summary>
    public IReadOnlyCollection<(string Category, string Message, long? ConnectorId)> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _messages, _entries, _waiters);

    /// <summary>Completes once a message that <paramref name="match"/> accepts has been logged (before or after this call).</summary>
    public Task WaitForAsync(Func<string, bool> match, CancellationToken cancellationToken)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Add(match, seen);
        // Registered first, then checked: a message logged in between is seen by one of the two.
        if (_messages.Any(match))
        {
            seen.TrySetResult();
        }

        return seen.Task.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
    }

    private sealed class Waiters
    {
        private readonly Lock _lock = new();
        private readonly List<(Func<string, bool> Match, TaskCompletionSource Seen)> _waiting = [];

        public void Add(Func<string, bool> match, TaskCompletionSource seen)
        {
            lock (_lock)
            {
                _waiting.Add((match, seen));
            }
        }

        public void Notify(string message)
        {
            lock (_lock)
            {
                foreach (var (match, seen) in _waiting)
                {
                    if (match(message))
                    {
                        seen.TrySetResult();
                    }
                }
            }
        }
    }

    private sealed class Logger(string category, ConcurrentQueue<string> messages, ConcurrentQueue<(string, string, long?)> entries, Waiters waiters) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception) + (exception is null ? string.Empty : " " + exception);
            messages.Enqueue(message);
            long? connector = null;
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    if (key == "ConnectorId" && value is not null)
                    {
                        connector = Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }

            entries.Enqueue((category, message, connector));
            waiters.Notify(message);
        }
    }
}
