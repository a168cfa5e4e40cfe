using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Relay.Interop.Tests.Infrastructure;

/// <summary>
/// Sends a shared server's log to the output of the test running now. The server outlives each test
/// (it is a class fixture), so the test sets <see cref="Output"/> when it starts; tests in one class run
/// one at a time, so the current test is unambiguous apart from stragglers logged after it ended.
/// </summary>
internal sealed class TestOutputLoggerProvider : ILoggerProvider
{
    private volatile ITestOutputHelper? _output;

    public ITestOutputHelper? Output
    {
        get => _output;
        set => _output = value;
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() => _output = null;

    private void Write(string line)
    {
        try
        {
            _output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test this line was meant for has finished; a late line is not worth failing anything.
        }
    }

    private sealed class Logger(TestOutputLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"[server {DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}] {formatter(state, exception)}";
            if (exception is not null)
            {
                line += Environment.NewLine + exception;
            }

            provider.Write(line);
        }
    }
}
