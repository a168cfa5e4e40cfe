using Microsoft.Extensions.Options;
using Relay.Broker.Access;
using Relay.Protocol.V1;

namespace Relay.Broker.Policy;

/// <summary>
/// Answers "may this caller view / message / launch there?" from the messaging policy. Role checks on Admin calls come
/// first (a rule can refuse what a role allows, never grant what a role does not); this is the second gate. The
/// rules are cached for <see cref="AccessOptions.CacheDuration"/> and reloaded at once after a SetPolicy here.
/// </summary>
internal sealed class PolicyEvaluator
{
    private readonly PolicyStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cacheDuration;
    private volatile Snapshot? _snapshot;
    private long _version;

    public PolicyEvaluator(PolicyStore store, IOptions<AccessOptions> options, TimeProvider time)
    {
        _store = store;
        _time = time;
        _cacheDuration = options.Value.CacheDuration;
        store.Changed += () =>
        {
            Interlocked.Increment(ref _version);
            _snapshot = null;
        };
    }

    /// <summary>May <paramref name="sender"/> (a user or a session) send a prompt or message to the target session?</summary>
    public ValueTask<PolicyDecision> MayMessageAsync(Caller sender, PolicyTargetInfo target, CancellationToken cancellationToken = default) =>
        EvaluateAsync(PolicyAction.Message, sender, target, cancellationToken);

    /// <summary>May <paramref name="caller"/> launch a session on the target machine (with the requested name and cwd)?</summary>
    public ValueTask<PolicyDecision> MayLaunchAsync(Caller caller, PolicyTargetInfo target, CancellationToken cancellationToken = default) =>
        EvaluateAsync(PolicyAction.Launch, caller, target, cancellationToken);

    /// <summary>May session <paramref name="viewer"/> see the target session (list_sessions, session_history)? People always may.</summary>
    public ValueTask<PolicyDecision> MayViewAsync(Caller viewer, PolicyTargetInfo target, CancellationToken cancellationToken = default) =>
        viewer.Kind == PrincipalKind.User
            ? ValueTask.FromResult(PolicyDecision.Allow("people see what their role allows"))
            : EvaluateAsync(PolicyAction.View, viewer, target, cancellationToken);

    /// <summary>Decides <paramref name="action"/> for <paramref name="subject"/> on <paramref name="target"/>.</summary>
    public async ValueTask<PolicyDecision> EvaluateAsync(PolicyAction action, Caller subject, PolicyTargetInfo target, CancellationToken cancellationToken = default)
    {
        var rules = await RulesAsync(cancellationToken);
        return PolicyRules.Evaluate(rules, action, subject, target);
    }

    private async ValueTask<IReadOnlyList<PolicyRule>> RulesAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        if (_snapshot is { } snapshot && snapshot.Until > now)
        {
            return snapshot.Rules;
        }

        // A load that overlaps a change must not cache what it read before the change.
        var version = Interlocked.Read(ref _version);
        var policy = await _store.GetAsync(cancellationToken);
        var rules = policy.Rules.ToArray();
        if (Interlocked.Read(ref _version) == version)
        {
            _snapshot = new Snapshot(rules, now + _cacheDuration);
        }

        return rules;
    }

    private sealed record Snapshot(IReadOnlyList<PolicyRule> Rules, DateTimeOffset Until);
}
