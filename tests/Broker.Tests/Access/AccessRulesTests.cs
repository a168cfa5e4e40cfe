using Relay.Broker.Access;
using Relay.Protocol.V1;

namespace Relay.Broker.Tests.Access;

public sealed class AccessRulesTests
{
    [Fact]
    public void Admin_EveryContractMethod_HasARule()
    {
        var methods = Protocol.V1.Admin.Descriptor.Methods.Select(m => m.Name);

        AccessRules.Admin.Keys.Should().BeEquivalentTo(methods);
    }

    [Theory]
    [InlineData("ListSessions", Role.Viewer)]
    [InlineData("GetServerInfo", Role.Viewer)]
    [InlineData("Watch", Role.Viewer)]
    [InlineData("SendPrompt", Role.Operator)]
    [InlineData("DecideApproval", Role.Operator)]
    [InlineData("LaunchSession", Role.Operator)]
    [InlineData("SetBriefing", Role.Operator)]
    [InlineData("CreateToken", Role.Admin)]
    [InlineData("ListTokens", Role.Admin)]
    [InlineData("CreateEnrollment", Role.Admin)]
    [InlineData("SetPolicy", Role.Admin)]
    [InlineData("ListAuditEvents", Role.Admin)]
    public void For_AdminMethod_NeedsDocumentedRole(string method, Role expected)
    {
        var rule = AccessRules.For("/relay.v1.Admin/" + method);

        rule.Kind.Should().Be(AccessKind.User);
        rule.MinimumRole.Should().Be(expected);
    }

    [Theory]
    [InlineData("/relay.v1.AgentLink/Enroll", nameof(AccessKind.Enrollment))]
    [InlineData("/relay.v1.AgentLink/Connect", nameof(AccessKind.Machine))]
    [InlineData("/grpc.health.v1.Health/Check", nameof(AccessKind.Public))]
    [InlineData("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", nameof(AccessKind.Public))]
    public void For_NonAdminMethod_HasExpectedKind(string method, string expected) =>
        AccessRules.For(method).Kind.ToString().Should().Be(expected);

    [Theory]
    [InlineData("/relay.v1.Admin/SomethingNew")]
    [InlineData("/relay.v2.Other/Call")]
    public void For_UnknownMethod_FailsClosedToAdmin(string method)
    {
        var rule = AccessRules.For(method);

        rule.Kind.Should().Be(AccessKind.User);
        rule.MinimumRole.Should().Be(Role.Admin);
    }

    [Fact]
    public void Admin_EveryMutation_NamesItsAuditAction()
    {
        var mutations = new[] { "CreateEnrollment", "RevokeMachine", "UpdateSession", "SendPrompt", "DecideApproval", "LaunchSession", "StopSession",
            "SetBriefing", "DeleteBriefing", "SetPolicy", "CreateToken", "RevokeToken" };

        AccessRules.Admin.Where(r => r.Value.AuditAction is not null).Select(r => r.Key).Should().BeEquivalentTo(mutations);
    }
}
