using Relay.Broker.Postgres;

namespace Relay.Broker.Tests.Postgres;

public sealed class EmbeddedPostgresOptionsValidatorTests
{
    private readonly EmbeddedPostgresOptionsValidator _validator = new();

    [Fact]
    public void Validate_Defaults_Succeed()
    {
        _validator.Validate(null, new EmbeddedPostgresOptions { DataDirectory = "/var/lib/relay" }).Succeeded.Should().BeTrue();
    }

    [Fact]
    public void Validate_NoDataDirectory_SaysToPassDataDir()
    {
        var result = _validator.Validate(null, new EmbeddedPostgresOptions());

        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain("--data-dir");
    }

    [Theory]
    [InlineData("/srv/relay$HOME")]
    [InlineData("/srv/\"relay\"")]
    public void Validate_DataDirectoryPgCtlCannotQuote_Fails(string dataDirectory)
    {
        _validator.Validate(null, new EmbeddedPostgresOptions { DataDirectory = dataDirectory }).Failed.Should().BeTrue();
    }

    [Fact]
    public void Validate_ZeroStartTimeout_Fails()
    {
        var options = new EmbeddedPostgresOptions { DataDirectory = "/var/lib/relay", StartTimeout = TimeSpan.Zero };

        _validator.Validate(null, options).FailureMessage.Should().Contain("StartTimeout");
    }
}
