using Google.Protobuf;
using Microsoft.Extensions.Options;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// Replays the hook client's drop files (command hooks the agent did not answer in time): once at start and then every
/// <see cref="HookOptions.DropReplayInterval"/>. A file is deleted only after its event is in the spool; a file that is
/// not a HookRequest, or whose payload is not a hook input, is moved to <c>malformed/</c> with a warning.
/// </summary>
internal sealed partial class HookDropReplayer(
    HookDropLocation location,
    IHookProcessor processor,
    IOptions<HookOptions> options,
    TimeProvider time,
    ILogger<HookDropReplayer> logger) : BackgroundService
{
    private static readonly TimeSpan StaleTemporaryAge = TimeSpan.FromMinutes(10);

    private readonly TaskCompletionSource _firstPass = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the pass at start has finished.</summary>
    public Task FirstPassCompleted => _firstPass.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.DropReplayInterval, time);
        try
        {
            do
            {
                await ReplayOnceAsync(stoppingToken);
                _firstPass.TrySetResult();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        finally
        {
            _firstPass.TrySetCanceled(CancellationToken.None);
        }
    }

    /// <summary>One pass over the drop directory; returns how many events were spooled.</summary>
    internal async Task<int> ReplayOnceAsync(CancellationToken cancellationToken)
    {
        var replayed = 0;
        IReadOnlyList<FileInfo> files;
        try
        {
            files = HookDropFiles.List(location.Directory);
            foreach (var stale in HookDropFiles.StaleTemporaries(location.Directory, time.GetUtcNow(), StaleTemporaryAge))
            {
                stale.Delete();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.DirectoryUnreadable(logger, location.Directory, ex);
            return 0;
        }

        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            HookRequest request;
            try
            {
                request = HookRequest.Parser.ParseFrom(await File.ReadAllBytesAsync(file.FullName, cancellationToken));
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            catch (InvalidProtocolBufferException ex)
            {
                MoveAside(file, ex.Message);
                continue;
            }

            request.Replayed = true;
            try
            {
                await processor.ProcessCommandHookAsync(request, cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
            {
                MoveAside(file, ex.Status.Detail);
                continue;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The spool refused it: keep the file (and the rest, in order) for the next pass.
                Log.ReplayFailed(logger, file.FullName, ex);
                break;
            }

            file.Delete();
            replayed++;
        }

        if (replayed > 0)
        {
            Log.Replayed(logger, replayed, location.Directory);
        }

        return replayed;
    }

    private void MoveAside(FileInfo file, string reason)
    {
        try
        {
            Log.MalformedFile(logger, file.FullName, reason, HookDropFiles.MoveAside(file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.ReplayFailed(logger, file.FullName, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(30, LogLevel.Information, "Replayed {Count} command hook event(s) left by the hook client in {Directory}")]
        public static partial void Replayed(ILogger logger, int count, string directory);

        [LoggerMessage(31, LogLevel.Warning, "Drop file {File} is not a usable hook request ({Reason}); moved to {Aside}")]
        public static partial void MalformedFile(ILogger logger, string file, string reason, string aside);

        [LoggerMessage(32, LogLevel.Error, "Could not replay drop file {File}; it is kept for the next pass")]
        public static partial void ReplayFailed(ILogger logger, string file, Exception exception);

        [LoggerMessage(33, LogLevel.Error, "Cannot read the hook drop directory {Directory}")]
        public static partial void DirectoryUnreadable(ILogger logger, string directory, Exception exception);
    }
}

/// <summary>Where the hook client leaves the events the agent did not answer.</summary>
/// <param name="Directory">The drop directory.</param>
internal sealed record HookDropLocation(string Directory);
