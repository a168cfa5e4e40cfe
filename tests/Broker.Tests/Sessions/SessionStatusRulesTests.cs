using Relay.Broker.Sessions;
using Relay.Protocol.V1;
using SessionStatus = Relay.Broker.Persistence.Entities.SessionStatus;

namespace Relay.Broker.Tests.Sessions;

public sealed class SessionStatusRulesTests
{
    [Theory]
    [InlineData("UserPromptSubmit", "Idle", "Working")]
    [InlineData("PreToolUse", "WaitingForInput", "Working")]
    [InlineData("PermissionRequest", "Working", "WaitingForApproval")]
    [InlineData("Stop", "Working", "WaitingForInput")]
    [InlineData("StopFailure", "Working", "WaitingForInput")]
    [InlineData("SessionStart", "Ended", "Idle")]
    [InlineData("InstructionsLoaded", "Starting", "Idle")]
    public void AfterHook_KnownEvents_MoveStatus(string hook, string before, string after) =>
        SessionStatusRules.AfterHook(hook, new HookFields(), Enum.Parse<SessionStatus>(before)).Should().Be(Enum.Parse<SessionStatus>(after));

    [Theory]
    [InlineData("InstructionsLoaded")]
    [InlineData("ConfigChange")]
    [InlineData("SomeFutureEvent")]
    public void AfterHook_InformationalEvents_LeaveStatus(string hook) =>
        SessionStatusRules.AfterHook(hook, new HookFields(), SessionStatus.Working).Should().BeNull();

    [Fact]
    public void AfterHook_CompactSessionStart_KeepsAWorkingSessionWorking() =>
        SessionStatusRules.AfterHook("SessionStart", new HookFields { StartSource = SessionStartSource.Compact }, SessionStatus.Working).Should().BeNull();

    [Fact]
    public void AfterHook_Notifications_MapPermissionAndIdlePrompts()
    {
        SessionStatusRules.AfterHook("Notification", new HookFields { NotificationType = "permission_prompt" }, SessionStatus.Working).Should().Be(SessionStatus.WaitingForApproval);
        SessionStatusRules.AfterHook("Notification", new HookFields { NotificationType = "idle_prompt" }, SessionStatus.WaitingForInput).Should().Be(SessionStatus.Idle);
    }

    [Theory]
    [InlineData("clear", false)]
    [InlineData("resume", false)]
    [InlineData("logout", true)]
    [InlineData("prompt_input_exit", true)]
    [InlineData("other", true)]
    public void EndsSession_SessionEndReasons(string reason, bool ends) => SessionStatusRules.EndsSession(reason).Should().Be(ends);
}
