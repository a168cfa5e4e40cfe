using Relay.Broker.Access;
using Relay.Broker.Policy;
using Relay.Grpc;
using Relay.Protocol.V1;
using PolicyMessage = Relay.Protocol.V1.Policy;

namespace Relay.Broker.Tests.Access;

public sealed class PolicyRulesTests
{
    private static readonly Guid MachineA = Guid.NewGuid();
    private static readonly Caller Viewer = Caller.ForUser(Guid.NewGuid(), "vera", Role.Viewer);
    private static readonly Caller Operator = Caller.ForUser(Guid.NewGuid(), "otto", Role.Operator);
    private static readonly Caller Reviewer = Caller.ForSession(Guid.NewGuid(), "reviewer", MachineA, "alpha");
    private static readonly PolicyTargetInfo Target = new() { MachineId = MachineA, MachineName = "alpha", SessionName = "builder", Directory = "/home/dev/relay/src" };

    [Fact]
    public void Evaluate_NoRules_SessionsMayMessageEachOther()
    {
        PolicyRules.Evaluate([], PolicyAction.Message, Reviewer, Target).Allowed.Should().BeTrue();
        PolicyRules.Evaluate([], PolicyAction.View, Reviewer, Target).Allowed.Should().BeTrue();
        PolicyRules.Evaluate([], PolicyAction.Message, Viewer, Target).Allowed.Should().BeTrue();
    }

    [Fact]
    public void Evaluate_NoRules_LaunchNeedsOperator()
    {
        PolicyRules.Evaluate([], PolicyAction.Launch, Operator, Target).Allowed.Should().BeTrue();

        var viewer = PolicyRules.Evaluate([], PolicyAction.Launch, Viewer, Target);
        viewer.Allowed.Should().BeFalse();
        viewer.Reason.Should().Contain("operator");

        var session = PolicyRules.Evaluate([], PolicyAction.Launch, Reviewer, Target);
        session.Allowed.Should().BeFalse();
        session.Reason.Should().Contain("Sessions may not launch");
    }

    [Fact]
    public void Evaluate_SystemCaller_AlwaysAllowed() =>
        PolicyRules.Evaluate([Rule(PolicyAction.Launch, PolicyEffect.Deny)], PolicyAction.Launch, Caller.System, Target).Allowed.Should().BeTrue();

    [Fact]
    public void Evaluate_FirstMatchingRuleDecides()
    {
        var rules = new[]
        {
            Rule(PolicyAction.Message, PolicyEffect.Deny, subject: new PolicySubject { Kind = PrincipalKind.Session, SessionName = "rev*" }, description: "reviewers only read"),
            Rule(PolicyAction.Message, PolicyEffect.Allow),
        };

        var denied = PolicyRules.Evaluate(rules, PolicyAction.Message, Reviewer, Target);
        denied.Allowed.Should().BeFalse();
        denied.Reason.Should().Contain("policy rule 1 (reviewers only read)");
        PolicyRules.Evaluate(rules, PolicyAction.Message, Operator, Target).Allowed.Should().BeTrue();
    }

    [Fact]
    public void Evaluate_LaunchRuleForSessions_GrantsWhatDefaultsRefuse()
    {
        var rules = new[] { Rule(PolicyAction.Launch, PolicyEffect.Allow, subject: new PolicySubject { Kind = PrincipalKind.Session, Machine = "alpha" }) };

        PolicyRules.Evaluate(rules, PolicyAction.Launch, Reviewer, Target).Allowed.Should().BeTrue();
        PolicyRules.Evaluate(rules, PolicyAction.Launch, Viewer, Target).Allowed.Should().BeFalse("the USER viewer is not a session subject and defaults apply");
    }

    [Theory]
    [InlineData("/home/dev/relay", true)]
    [InlineData("/home/dev/relay/", true)]
    [InlineData("/home/dev/relay/src", true)]
    [InlineData("/home/dev/rel", false)]
    [InlineData("/home/dev/relay/src/deeper", false)]
    [InlineData("/", true)]
    public void Evaluate_DirectoryTarget_MatchesWholeSegments(string directory, bool matches)
    {
        var rules = new[] { Rule(PolicyAction.Message, PolicyEffect.Deny, target: new PolicyTarget { Directory = directory }) };

        PolicyRules.Evaluate(rules, PolicyAction.Message, Reviewer, Target).Allowed.Should().Be(!matches);
    }

    [Fact]
    public void Evaluate_MinRoleSubject_MatchesUsersAtOrAboveOnly()
    {
        var rules = new[] { Rule(PolicyAction.Message, PolicyEffect.Deny, subject: new PolicySubject { MinRole = Role.Operator }) };

        PolicyRules.Evaluate(rules, PolicyAction.Message, Operator, Target).Allowed.Should().BeFalse();
        PolicyRules.Evaluate(rules, PolicyAction.Message, Viewer, Target).Allowed.Should().BeTrue();
        PolicyRules.Evaluate(rules, PolicyAction.Message, Reviewer, Target).Allowed.Should().BeTrue();
    }

    [Theory]
    [InlineData("rev*", "reviewer", true)]
    [InlineData("*er", "reviewer", true)]
    [InlineData("r?viewer", "reviewer", true)]
    [InlineData("r*w*r", "reviewer", true)]
    [InlineData("*", "", true)]
    [InlineData("rev", "reviewer", false)]
    [InlineData("Rev*", "reviewer", false)]
    [InlineData("?", "", false)]
    public void Glob_Pattern_MatchesAsShellWould(string pattern, string value, bool expected) =>
        PolicyRules.Glob(pattern, value).Should().Be(expected);

    [Fact]
    public void Validate_UnspecifiedAction_InvalidArgumentNamingTheRule()
    {
        var policy = new PolicyMessage { Rules = { Rule(PolicyAction.Message, PolicyEffect.Allow), Rule(PolicyAction.Unspecified, PolicyEffect.Allow) } };

        var act = () => PolicyRules.Validate(policy);

        act.Should().Throw<RpcException>().Where(e => e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains("policy.rules[1].action"));
    }

    [Theory]
    [MemberData(nameof(InvalidRules))]
    public void Validate_InvalidRule_InvalidArgument(PolicyRule rule, string field)
    {
        var act = () => PolicyRules.Validate(new PolicyMessage { Rules = { rule } });

        act.Should().Throw<RpcException>().Where(e => e.StatusCode == StatusCode.InvalidArgument && e.Status.Detail.Contains(field));
    }

    public static TheoryData<PolicyRule, string> InvalidRules() => new()
    {
        { Rule(PolicyAction.Message, PolicyEffect.Unspecified), "effect" },
        { Rule(PolicyAction.Message, PolicyEffect.Allow, subject: new PolicySubject { Kind = PrincipalKind.Session, MinRole = Role.Admin }), "min_role" },
        { Rule(PolicyAction.Message, PolicyEffect.Allow, subject: new PolicySubject { Kind = PrincipalKind.User, Machine = "alpha" }), "SESSION subjects" },
        { Rule(PolicyAction.Message, PolicyEffect.Allow, subject: new PolicySubject { Kind = PrincipalKind.Machine }), "subject.kind" },
        { Rule(PolicyAction.Message, PolicyEffect.Allow, target: new PolicyTarget { Directory = "relative/dir" }), "absolute path" },
        { Rule(PolicyAction.Message, PolicyEffect.Allow, target: new PolicyTarget { SessionName = new string('x', 200) }), "target.session_name" },
        { Rule(PolicyAction.Message, PolicyEffect.Allow, description: new string('d', 2000)), "description" },
    };

    [Fact]
    public void Validate_TooManyRules_InvalidArgument()
    {
        var policy = new PolicyMessage();
        policy.Rules.AddRange(Enumerable.Range(0, PolicyRules.MaxRules + 1).Select(_ => Rule(PolicyAction.View, PolicyEffect.Allow)));

        var act = () => PolicyRules.Validate(policy);

        act.Should().Throw<RpcException>().Where(e => e.StatusCode == StatusCode.InvalidArgument);
    }

    private static PolicyRule Rule(PolicyAction action, PolicyEffect effect, PolicySubject? subject = null, PolicyTarget? target = null, string description = "") =>
        new() { Action = action, Effect = effect, Subject = subject, Target = target, Description = description };
}
