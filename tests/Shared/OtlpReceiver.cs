using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Relay.Tests.Shared;

/// <summary>An OTLP/HTTP receiver: records every POST body by path.</summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly List<(string Path, byte[] Body)> _bodies = [];
    private readonly SemaphoreSlim _arrived = new(0);
    private WebApplication? _app;

    public string Address { get; private set; } = string.Empty;

    /// <summary>True when <paramref name="needle"/> occurs in <paramref name="body"/>: OTLP/protobuf carries names as UTF-8 and ids as raw bytes.</summary>
    public static bool Contains(byte[] body, byte[] needle) => body.AsSpan().IndexOf(needle) >= 0;

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http1));
        _app = builder.Build();
        _app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            lock (_bodies)
            {
                _bodies.Add((context.Request.Path.Value!, buffer.ToArray()));
            }

            _arrived.Release();
            context.Response.ContentType = "application/x-protobuf";
        });
        await _app.StartAsync();
        Address = _app.Urls.Single();
    }

    public async Task WaitForAsync(string path, Func<byte[], bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_bodies)
            {
                if (_bodies.Any(b => b.Path == path && predicate(b.Body)))
                {
                    return;
                }
            }

            await _arrived.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _arrived.Dispose();
    }
}
