using System.Runtime.CompilerServices;

namespace Relay.Grpc;

/// <summary>Reads a stream of messages: call <see cref="MoveNext"/> until it returns false.</summary>
public interface IAsyncStreamReader<out T>
{
    /// <summary>The message read by the last successful <see cref="MoveNext"/>.</summary>
    T Current { get; }

    /// <summary>Reads the next message; false at the end of the stream.</summary>
    Task<bool> MoveNext(CancellationToken cancellationToken = default);
}

/// <summary>Writes a stream of messages. One write at a time.</summary>
public interface IAsyncStreamWriter<in T>
{
    /// <summary>Options for the following writes.</summary>
    WriteOptions? WriteOptions { get; set; }

    /// <summary>Writes one message; completes when the transport has taken it.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

/// <summary>The server's side of a response stream.</summary>
public interface IServerStreamWriter<in T> : IAsyncStreamWriter<T>;

/// <summary>The client's side of a request stream.</summary>
public interface IClientStreamWriter<in T> : IAsyncStreamWriter<T>
{
    /// <summary>Ends the request stream (half-close).</summary>
    Task CompleteAsync();
}

/// <summary>Helpers for stream readers.</summary>
public static class AsyncStreamReaderExtensions
{
    /// <summary>Reads every remaining message as an async sequence.</summary>
    public static IAsyncEnumerable<T> ReadAllAsync<T>(this IAsyncStreamReader<T> reader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return ReadAllCore(reader, cancellationToken);
    }

    private static async IAsyncEnumerable<T> ReadAllCore<T>(IAsyncStreamReader<T> reader, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await reader.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.Current;
        }
    }
}
