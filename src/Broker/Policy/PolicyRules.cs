using Relay.Broker.Access;
using Relay.Broker.Validation;
using Relay.Protocol.V1;
using PolicyMessage = Relay.Protocol.V1.Policy;

namespace Relay.Broker.Policy;

/// <summary>
/// The messaging policy's semantics (admin_config.proto): rules in order, the first whose action, subject and target
/// match decides; with none matching, the built-in defaults apply — VIEW and MESSAGE allowed for everyone in the team,
/// LAUNCH allowed for people with role operator or above and refused for sessions.
/// </summary>
internal static class PolicyRules
{
    public const int MaxRules = 500;
    public const int MaxDescriptionLength = 1024;

    /// <summary>Decides <paramref name="action"/> by <paramref name="subject"/> on <paramref name="target"/>.</summary>
    public static PolicyDecision Evaluate(IReadOnlyList<PolicyRule> rules, PolicyAction action, Caller subject, PolicyTargetInfo target)
    {
        if (subject.Kind == PrincipalKind.System)
        {
            return PolicyDecision.Allow("the broker itself");
        }

        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            if (rule.Action == action && SubjectMatches(rule.Subject, subject) && TargetMatches(rule.Target, target))
            {
                var described = string.IsNullOrWhiteSpace(rule.Description) ? $"policy rule {i + 1}" : $"policy rule {i + 1} ({rule.Description})";
                return rule.Effect == PolicyEffect.Allow
                    ? PolicyDecision.Allow("allowed by " + described)
                    : PolicyDecision.Deny($"{Verb(action)} {Describe(target)} is refused by {described}; ask an admin to change the policy (relayctl policy show).");
            }
        }

        return Default(action, subject, target);
    }

    private static PolicyDecision Default(PolicyAction action, Caller subject, PolicyTargetInfo target)
    {
        if (action != PolicyAction.Launch)
        {
            return PolicyDecision.Allow("allowed by default (the team's sessions and people may view and message each other)");
        }

        return subject.Kind == PrincipalKind.User && subject.Role >= Role.Operator
            ? PolicyDecision.Allow("allowed by default (launching needs role operator)")
            : PolicyDecision.Deny(subject.Kind == PrincipalKind.User
                ? $"Launching {Describe(target)} needs role operator; token '{subject.DisplayName}' has role {subject.Role.Name()}."
                : $"Sessions may not launch sessions unless a policy rule allows it (launching {Describe(target)}); ask an admin to add a LAUNCH rule.");
    }

    private static bool SubjectMatches(PolicySubject? rule, Caller subject)
    {
        if (rule is null)
        {
            return true;
        }

        // A machine's agent acts for its sessions; it is matched as a session with no name.
        var isSession = subject.Kind is PrincipalKind.Session or PrincipalKind.Machine;
        switch (rule.Kind)
        {
            case PrincipalKind.User when subject.Kind != PrincipalKind.User:
            case PrincipalKind.Session when !isSession:
                return false;
        }

        if (rule.MinRole != Role.Unspecified && (subject.Kind != PrincipalKind.User || subject.Role < rule.MinRole))
        {
            return false;
        }

        if (rule.Machine.Length > 0 && (!isSession || !NamesMachine(rule.Machine, subject.MachineId, subject.MachineName)))
        {
            return false;
        }

        return rule.SessionName.Length == 0 || (isSession && Glob(rule.SessionName, subject.SessionName ?? string.Empty));
    }

    private static bool TargetMatches(PolicyTarget? rule, PolicyTargetInfo target)
    {
        if (rule is null)
        {
            return true;
        }

        return (rule.Machine.Length == 0 || NamesMachine(rule.Machine, target.MachineId, target.MachineName))
            && (rule.SessionName.Length == 0 || (target.SessionName is { } name && Glob(rule.SessionName, name)))
            && (rule.Directory.Length == 0 || (target.Directory is { } directory && IsAtOrBelow(rule.Directory, directory)));
    }

    private static bool NamesMachine(string machine, Guid? id, string? name) =>
        (id is { } machineId && Guid.TryParse(machine, out var ruleId) && ruleId == machineId)
        || string.Equals(machine, name, StringComparison.Ordinal);

    /// <summary>True when <paramref name="path"/> is <paramref name="directory"/> or lies below it (whole path segments only).</summary>
    public static bool IsAtOrBelow(string directory, string path)
    {
        var root = directory.Length > 1 ? directory.TrimEnd('/') : directory;
        return root == "/"
            || string.Equals(path, root, StringComparison.Ordinal)
            || (path.StartsWith(root, StringComparison.Ordinal) && path.Length > root.Length && path[root.Length] == '/');
    }

    /// <summary>Glob match with <c>*</c> (any run, also empty) and <c>?</c> (one character); case-sensitive.</summary>
    public static bool Glob(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = v;
            }
            else if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == value[v]))
            {
                p++;
                v++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Checks a policy sent to SetPolicy; INVALID_ARGUMENT naming the first bad field.</summary>
    public static void Validate(PolicyMessage policy)
    {
        if (policy.Rules.Count > MaxRules)
        {
            throw RpcErrors.InvalidArgument($"policy has {policy.Rules.Count} rules; the limit is {MaxRules}.");
        }

        for (var i = 0; i < policy.Rules.Count; i++)
        {
            var rule = policy.Rules[i];
            var at = $"policy.rules[{i}]";
            Require.OptionalText(rule.Description, at + ".description", MaxDescriptionLength);
            if (rule.Action is not (PolicyAction.View or PolicyAction.Message or PolicyAction.Launch))
            {
                throw RpcErrors.InvalidArgument($"{at}.action must be POLICY_ACTION_VIEW, POLICY_ACTION_MESSAGE or POLICY_ACTION_LAUNCH.");
            }

            if (rule.Effect is not (PolicyEffect.Allow or PolicyEffect.Deny))
            {
                throw RpcErrors.InvalidArgument($"{at}.effect must be POLICY_EFFECT_ALLOW or POLICY_EFFECT_DENY.");
            }

            if (rule.Subject is { } subject)
            {
                if (subject.Kind is not (PrincipalKind.Unspecified or PrincipalKind.User or PrincipalKind.Session))
                {
                    throw RpcErrors.InvalidArgument($"{at}.subject.kind must be PRINCIPAL_KIND_USER, PRINCIPAL_KIND_SESSION or unset (either).");
                }

                if (!System.Enum.IsDefined(subject.MinRole))
                {
                    throw RpcErrors.InvalidArgument($"{at}.subject.min_role has an unknown value.");
                }

                if (subject.MinRole != Role.Unspecified && subject.Kind == PrincipalKind.Session)
                {
                    throw RpcErrors.InvalidArgument($"{at}.subject.min_role applies to USER subjects; a SESSION subject has no role.");
                }

                if (subject.Kind == PrincipalKind.User && (subject.Machine.Length > 0 || subject.SessionName.Length > 0))
                {
                    throw RpcErrors.InvalidArgument($"{at}.subject.machine and session_name apply to SESSION subjects; a USER subject has neither.");
                }

                Require.OptionalName(subject.Machine, at + ".subject.machine");
                Require.OptionalName(subject.SessionName, at + ".subject.session_name");
            }

            if (rule.Target is { } target)
            {
                Require.OptionalName(target.Machine, at + ".target.machine");
                Require.OptionalName(target.SessionName, at + ".target.session_name");
                if (Require.OptionalName(target.Directory, at + ".target.directory", Persistence.Limits.Path) is { } directory && !directory.StartsWith('/'))
                {
                    throw RpcErrors.InvalidArgument($"{at}.target.directory must be an absolute path such as /home/dev/project.");
                }
            }
        }
    }

    private static string Verb(PolicyAction action) => action switch
    {
        PolicyAction.View => "Viewing",
        PolicyAction.Message => "Messaging",
        _ => "Launching",
    };

    private static string Describe(PolicyTargetInfo target)
    {
        var parts = new List<string>();
        if (target.SessionName is { Length: > 0 } name)
        {
            parts.Add($"'{name}'");
        }

        if ((target.MachineName ?? target.MachineId?.ToString()) is { } machine)
        {
            parts.Add("on " + machine);
        }

        if (target.Directory is { Length: > 0 } directory)
        {
            parts.Add("in " + directory);
        }

        return parts.Count == 0 ? "this session" : string.Join(' ', parts);
    }
}
