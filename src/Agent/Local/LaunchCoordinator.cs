using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Relay.Agent.Launch;
using Relay.Agent.Prompts;
using Relay.Agent.Sessions;
using Relay.Agent.Spool;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Local;

/// <summary>
/// Carries out launches and stops, from the broker (LaunchRequest, StopRequest: recorded, acked, then run in the
/// background) and from <c>relay-agent launch</c> (LocalAgent.Launch: run while the caller waits). One path for both:
/// the session is registered with the tracker before Claude starts (so its channel and hooks find it by launch id),
/// the initial prompt waits in the queue for the launch's channel, and the outcome is spooled as a LaunchResult.
/// </summary>
internal sealed partial class LaunchCoordinator : IDisposable
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ISessionLauncher _launcher;
    private readonly SessionTracker _tracker;
    private readonly PromptQueue _prompts;
    private readonly IAgentSpool _spool;
    private readonly LaunchJournal _journal;
    private readonly TimeProvider _time;
    private readonly LocalAgentOptions _options;
    private readonly ILogger<LaunchCoordinator> _logger;
    private int _recovered;

    public LaunchCoordinator(
        ISessionLauncher launcher,
        SessionTracker tracker,
        PromptQueue prompts,
        IAgentSpool spool,
        LaunchJournal journal,
        TimeProvider time,
        IOptions<LocalAgentOptions> options,
        ILogger<LaunchCoordinator> logger)
    {
        _launcher = launcher;
        _tracker = tracker;
        _prompts = prompts;
        _spool = spool;
        _journal = journal;
        _time = time;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Reports requests an earlier agent process recorded but never finished as failed (once, at start).</summary>
    public async ValueTask RecoverAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _recovered, 1) == 1)
        {
            return;
        }

        var (known, unfinished) = _journal.Load();
        lock (_lock)
        {
            _known.UnionWith(known);
        }

        const string reason = "The agent restarted before this request finished; check the machine before retrying.";
        foreach (var entry in unfinished)
        {
            var bytes = Convert.FromBase64String(entry.Request!);
            var message = entry.Key!.StartsWith("stop:", StringComparison.Ordinal)
                ? new AgentMessage { StopResult = new StopResult { StopId = StopRequest.Parser.ParseFrom(bytes).StopId, Error = reason, At = Now() } }
                : new AgentMessage { LaunchResult = Failed(LaunchRequest.Parser.ParseFrom(bytes), reason) };
            await _spool.AppendAsync(message, cancellationToken);
            await _journal.DoneAsync(entry.Key, cancellationToken);
        }
    }

    /// <summary>A broker LaunchRequest: recorded (with its initial prompt) before this returns; started in the background.</summary>
    public async ValueTask AcceptLaunchAsync(LaunchRequest request, CancellationToken cancellationToken)
    {
        await RecoverAsync(cancellationToken);
        if (!ClientIds.IsValid(request.LaunchId) || !Remember("launch:" + request.LaunchId))
        {
            return;
        }

        await _journal.RecordAsync("launch:" + request.LaunchId, request.ToByteArray(), cancellationToken);
        if (request.InitialPrompt is { PromptId.Length: > 0 } prompt)
        {
            await _prompts.EnqueueAsync(prompt, request.LaunchId, local: false, cancellationToken);
        }

        Background(token => RunLaunchAsync(request, local: false, token));
    }

    /// <summary><c>relay-agent launch</c>: runs the launch while the caller waits.</summary>
    public async Task<LaunchResult> LaunchLocalAsync(LocalLaunchRequest request, CancellationToken cancellationToken)
    {
        await RecoverAsync(cancellationToken);
        var launchId = request.LaunchId.Length > 0 ? request.LaunchId : Guid.NewGuid().ToString("D");
        if (!ClientIds.IsValid(launchId))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "launch_id must be 1 to 128 characters of [A-Za-z0-9._:-] (or empty for a new one)."));
        }

        if (!Remember("launch:" + launchId))
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"Launch id '{launchId}' was used before; use a new one."));
        }

        var launch = new LaunchRequest { LaunchId = launchId, Cwd = request.Cwd, Name = request.Name, ClaudeArgs = { request.ClaudeArgs } };
        if (request.Prompt.Length > 0)
        {
            launch.InitialPrompt = new PromptDelivery
            {
                PromptId = Guid.NewGuid().ToString("D"),
                Text = request.Prompt,
                Sender = new Principal { Kind = PrincipalKind.User, DisplayName = Environment.UserName + " (relay-agent launch)" },
                SentAt = Now(),
            };
        }

        await _journal.RecordAsync("launch:" + launchId, launch.ToByteArray(), cancellationToken);
        if (launch.InitialPrompt is { } prompt)
        {
            await _prompts.EnqueueAsync(prompt, launchId, local: true, cancellationToken);
        }

        return await RunLaunchAsync(launch, local: true, cancellationToken);
    }

    /// <summary>A broker StopRequest: recorded before this returns; carried out in the background.</summary>
    public async ValueTask AcceptStopAsync(StopRequest request, CancellationToken cancellationToken)
    {
        await RecoverAsync(cancellationToken);
        if (!ClientIds.IsValid(request.StopId) || !Remember("stop:" + request.StopId))
        {
            return;
        }

        await _journal.RecordAsync("stop:" + request.StopId, request.ToByteArray(), cancellationToken);
        Background(token => RunStopAsync(request, token));
    }

    /// <summary>Completes when every background launch and stop has finished (tests, shutdown).</summary>
    public Task WhenIdleAsync()
    {
        lock (_lock)
        {
            return Task.WhenAll(_running.ToArray());
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private async Task<LaunchResult> RunLaunchAsync(LaunchRequest request, bool local, CancellationToken cancellationToken)
    {
        var result = await StartAsync(request, local, cancellationToken);
        await _spool.AppendAsync(new AgentMessage { LaunchResult = result }, cancellationToken);
        await _journal.DoneAsync("launch:" + request.LaunchId, cancellationToken);
        if (!result.Started)
        {
            await _prompts.FailLaunchAsync(request.LaunchId, "The launch failed: " + result.Error, cancellationToken);
        }

        Log.Launched(_logger, request.LaunchId, result.Started, result.Error);
        return result;
    }

    private async Task<LaunchResult> StartAsync(LaunchRequest request, bool local, CancellationToken cancellationToken)
    {
        if (request.ExpiresAt is { } expires && expires.ToDateTimeOffset() <= _time.GetUtcNow())
        {
            return Failed(request, "The launch request expired before the agent could start it.", local);
        }

        var cwd = request.Cwd.Length > 0 ? request.Cwd
            : _options.DefaultLaunchDirectory.Length > 0 ? _options.DefaultLaunchDirectory
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!Path.IsPathFullyQualified(cwd) || !Directory.Exists(cwd))
        {
            return Failed(request, $"The working directory '{cwd}' does not exist on this machine (it must be an absolute path).", local);
        }

        var claudeSessionId = Guid.NewGuid().ToString("D");
        _tracker.RegisterLaunch(new LaunchRegistration(request.LaunchId, claudeSessionId, request.SessionId, request.Name, cwd));
        LaunchOutcome outcome;
        try
        {
            outcome = await _launcher.LaunchAsync(new LaunchSpec(request.LaunchId, claudeSessionId, cwd, request.Name.Length > 0 ? request.Name : null, request.ClaudeArgs), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            outcome = new LaunchOutcome(false, "The launcher failed: " + ex.Message, 0, string.Empty, _time.GetUtcNow());
        }

        if (!outcome.Started)
        {
            _tracker.ForgetLaunch(request.LaunchId);
            return Failed(request, outcome.Error ?? "Claude did not start.", local);
        }

        var session = _tracker.CompleteLaunch(request.LaunchId, outcome.ClaudePid, outcome.TmuxTarget, outcome.ChannelsRefused);
        _prompts.Dispatch();
        return new LaunchResult
        {
            LaunchId = request.LaunchId,
            Started = true,
            Session = session?.Evidence() ?? new SessionEvidence { LaunchId = request.LaunchId, ClaudeSessionId = claudeSessionId, ClaudePid = outcome.ClaudePid, Cwd = cwd },
            Name = request.Name,
            TmuxTarget = outcome.TmuxTarget,
            ClaudeArgs = { request.ClaudeArgs },
            Local = local,
            At = Timestamp.FromDateTimeOffset(outcome.At),
        };
    }

    private async Task RunStopAsync(StopRequest request, CancellationToken cancellationToken)
    {
        var session = _tracker.Find(request.Session ?? new SessionEvidence());
        StopResult result;
        if (session is not { Pid: > 0 })
        {
            result = new StopResult
            {
                StopId = request.StopId,
                Session = request.Session,
                Error = "No live Claude process on this machine matches the session.",
                At = Now(),
            };
        }
        else
        {
            var grace = request.GracePeriod is { } g ? g.ToTimeSpan() : _options.StopGracePeriod;
            StopOutcome outcome;
            try
            {
                outcome = await _launcher.StopAsync(new StopSpec(session.Pid, session.TmuxTarget.Length > 0 ? session.TmuxTarget : null, request.Force, grace), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                outcome = new StopOutcome(false, "The launcher failed: " + ex.Message, _time.GetUtcNow());
            }

            result = new StopResult
            {
                StopId = request.StopId,
                Session = session.Evidence(),
                Stopped = outcome.Stopped,
                Error = outcome.Error ?? string.Empty,
                At = Timestamp.FromDateTimeOffset(outcome.At),
            };
        }

        await _spool.AppendAsync(new AgentMessage { StopResult = result }, cancellationToken);
        await _journal.DoneAsync("stop:" + request.StopId, cancellationToken);
        Log.Stopped(_logger, request.StopId, result.Stopped, result.Error);
    }

    private LaunchResult Failed(LaunchRequest request, string error, bool local = false) => new()
    {
        LaunchId = request.LaunchId,
        Started = false,
        Error = error,
        Session = new SessionEvidence { LaunchId = request.LaunchId, SessionId = request.SessionId, Cwd = request.Cwd },
        Name = request.Name,
        ClaudeArgs = { request.ClaudeArgs },
        Local = local,
        At = Now(),
    };

    private bool Remember(string key)
    {
        lock (_lock)
        {
            return _known.Add(key);
        }
    }

    private void Background(Func<CancellationToken, Task> work)
    {
        var token = _stopping.Token;
        var task = Task.Run(async () =>
        {
            try
            {
                await work(token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Shutting down: the journal reports it failed at the next start.
            }
            catch (Exception ex)
            {
                Log.BackgroundFailed(_logger, ex);
            }
        }, CancellationToken.None);
        lock (_lock)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    private Timestamp Now() => Timestamp.FromDateTimeOffset(_time.GetUtcNow());

    private static partial class Log
    {
        [LoggerMessage(EventId = 4400, Level = LogLevel.Information, Message = "Launch {LaunchId}: started {Started} {Error}")]
        public static partial void Launched(ILogger logger, string launchId, bool started, string error);

        [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "Stop {StopId}: stopped {Stopped} {Error}")]
        public static partial void Stopped(ILogger logger, string stopId, bool stopped, string error);

        [LoggerMessage(EventId = 4402, Level = LogLevel.Error, Message = "A background launch or stop failed; the journal reports it at the next start.")]
        public static partial void BackgroundFailed(ILogger logger, Exception exception);
    }
}
