using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Relay.Grpc.Internal;

namespace Relay.Grpc.Client.Internal;

internal sealed partial class GrpcCall<TRequest, TResponse>
{
    private static readonly MediaTypeHeaderValue s_contentType = new(GrpcProtocol.ContentType);

    /// <summary>The body of a call with one request message, serialized before the call starts.</summary>
    private sealed class UnaryRequestContent : HttpContent
    {
        private readonly byte[] _body;

        public UnaryRequestContent(byte[] body)
        {
            _body = body;
            Headers.ContentType = s_contentType;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            stream.WriteAsync(_body).AsTask();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            stream.WriteAsync(_body, cancellationToken).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }

    /// <summary>
    /// The body of a streaming call. The handler calls SerializeToStreamAsync when it sends the request;
    /// it hands the stream to the writer and returns only on completion, which is what sends END_STREAM.
    /// </summary>
    private sealed class StreamingRequestContent : HttpContent
    {
        private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _complete = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public StreamingRequestContent()
        {
            Headers.ContentType = s_contentType;
        }

        public Task<Stream> StreamTask => _stream.Task;

        public void Complete() => _complete.TrySetResult();

        /// <summary>
        /// The call is over. Finished with OK, the body may end with END_STREAM; otherwise it fails, so that the handler
        /// resets the stream (RST_STREAM) without ending it first: a server must never take a cancelled request stream
        /// for a whole one.
        /// </summary>
        public void Abort(bool ok)
        {
            _stream.TrySetCanceled();
            if (ok)
            {
                _complete.TrySetResult();
            }
            else
            {
                _complete.TrySetCanceled();
            }
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            // Flushing first sends the HEADERS frame now rather than with the first message.
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            _stream.TrySetResult(stream);
            await _complete.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }

    private sealed class RequestStreamWriter(GrpcCall<TRequest, TResponse> call, StreamingRequestContent content) : IClientStreamWriter<TRequest>
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);
        private int _writing;
        private bool _completed;

        public WriteOptions? WriteOptions { get; set; } = call._options.WriteOptions;

        public async Task WriteAsync(TRequest message, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(message);
            if (Interlocked.Exchange(ref _writing, 1) != 0)
            {
                throw new InvalidOperationException("Can't write the message because the previous write is in progress.");
            }

            try
            {
                if (_completed)
                {
                    throw new InvalidOperationException("Request stream has already been completed.");
                }

                ThrowIfCallEnded();
                using var linked = call.NeedsLink(cancellationToken) ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, call._cts.Token) : null;
                var token = linked?.Token ?? call._cts.Token;
                try
                {
                    var stream = await content.StreamTask.WaitAsync(token).ConfigureAwait(false);
                    _buffer.ResetWrittenCount();
                    MessageFraming.WriteMessage(_buffer, message, call._method.RequestMarshaller, call._channel.Options.MaxSendMessageSize, call.RequestEncoding);
                    await stream.WriteAsync(_buffer.WrittenMemory, token).ConfigureAwait(false);
                    if (WriteOptions is not { Flags: var flags } || (flags & WriteFlags.BufferHint) == 0)
                    {
                        await stream.FlushAsync(token).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not RpcException { StatusCode: StatusCode.ResourceExhausted })
                {
                    ThrowIfCallEnded();
                    var status = call.ResolveException(ex);
                    call.FailWith(status);
                    throw new RpcException(status, Metadata.Empty, ex);
                }
            }
            finally
            {
                Volatile.Write(ref _writing, 0);
            }
        }

        public Task CompleteAsync()
        {
            // Ending the body under a write in flight would cut that message off mid-frame.
            if (Volatile.Read(ref _writing) != 0)
            {
                throw new InvalidOperationException("Can't complete the request stream because the previous write is in progress.");
            }

            _completed = true;
            content.Complete();
            return Task.CompletedTask;
        }

        private void ThrowIfCallEnded()
        {
            Status? status;
            lock (call._lock)
            {
                status = call._status;
            }

            if (status is { } s)
            {
                // The server has already answered (or the call was cancelled): report the real outcome.
                throw new RpcException(s.StatusCode == StatusCode.OK
                    ? new Status(StatusCode.OK, "The call has already completed; the server is not reading more requests.")
                    : s);
            }
        }
    }
}
