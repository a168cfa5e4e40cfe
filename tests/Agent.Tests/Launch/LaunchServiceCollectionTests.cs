using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Relay.Agent.Launch;

namespace Relay.Agent.Tests.Launch;

public sealed class LaunchServiceCollectionTests
{
    [Fact]
    public void AddSessionLauncher_BindsAgentLauncherSection()
    {
        using var provider = Build(new()
        {
            ["Agent:Launcher:TmuxSocketName"] = "relay-2",
            ["Agent:Launcher:ConfirmationTimeout"] = "00:01:00",
        });

        var options = provider.GetRequiredService<IOptions<LauncherOptions>>().Value;

        options.TmuxSocketName.Should().Be("relay-2");
        options.ConfirmationTimeout.Should().Be(TimeSpan.FromMinutes(1));
        provider.GetRequiredService<ISessionLauncher>().Should().BeOfType<TmuxLauncher>();
    }

    [Fact]
    public void AddSessionLauncher_InvalidOptions_FailWithMessagesNamingTheSetting()
    {
        using var provider = Build(new()
        {
            ["Agent:Launcher:TmuxSocketName"] = "bad/name",
            ["Agent:Launcher:ConfirmationTimeout"] = "00:00:00",
        });

        var act = () => provider.GetRequiredService<IOptions<LauncherOptions>>().Value;

        act.Should().Throw<OptionsValidationException>()
            .Which.Failures.Should().Contain(f => f.Contains("Agent:Launcher:TmuxSocketName", StringComparison.Ordinal))
            .And.Contain(f => f.Contains("Agent:Launcher:ConfirmationTimeout", StringComparison.Ordinal));
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddSessionLauncher();
        return services.BuildServiceProvider();
    }
}
