using Relay.Agent.Launch;

namespace Relay.Agent.Tests.Launch;

public sealed class ClaudeScreenTests
{
    [Theory]
    [InlineData("--dangerously-load-development-channels ignored\nChannels are not currently available", true)]
    [InlineData("  ⎿ channels aren't available right now", true)]
    [InlineData("Claude Code v2.1.328\n> Try \"fix lint errors\"", false)]
    [InlineData(null, false)]
    public void ChannelsRefused_StartScreen_TellsWhetherClaudeIgnoredTheFlag(string? screen, bool refused) =>
        ClaudeScreen.ChannelsRefused(screen).Should().Be(refused);
}
