using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Relay.Agent.Hooks;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>An <see cref="IHookResponder"/> whose behaviour a test sets: answer nothing (default), a fixed output, or never.</summary>
internal sealed class FakeResponder : IHookResponder
{
    public Func<HookContext, CancellationToken, Task<HookAnswer>> Handler { get; set; } = (_, _) => Task.FromResult(HookAnswer.None);

    public ConcurrentQueue<HookContext> Calls { get; } = new();

    /// <summary>Commits called, by event id.</summary>
    public ConcurrentQueue<string> Commits { get; } = new();

    /// <summary>Answers <paramref name="output"/> to every hook, with a commit that records the event id.</summary>
    public FakeResponder Answer(Func<HookContext, JsonObject?> output)
    {
        Handler = (hook, _) => Task.FromResult(new HookAnswer(output(hook), _ =>
        {
            Commits.Enqueue(hook.EventId);
            return ValueTask.CompletedTask;
        }));
        return this;
    }

    /// <summary>Never answers and ignores its token (the worst responder).</summary>
    public FakeResponder Hang()
    {
        Handler = (_, _) => new TaskCompletionSource<HookAnswer>().Task;
        return this;
    }

    public ValueTask<HookAnswer> RespondAsync(HookContext hook, SessionEvidence session, CancellationToken cancellationToken)
    {
        Calls.Enqueue(hook);
        return new ValueTask<HookAnswer>(Handler(hook, cancellationToken));
    }

    /// <summary>A SessionStart answer with additional context.</summary>
    public static JsonObject SessionStartContext(string text) => new()
    {
        ["hookSpecificOutput"] = new JsonObject { ["hookEventName"] = "SessionStart", ["additionalContext"] = text },
    };
}
