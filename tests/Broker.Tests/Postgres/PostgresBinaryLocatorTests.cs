using Relay.Broker.Postgres;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Postgres;

public sealed class PostgresBinaryLocatorTests : IDisposable
{
    private readonly TempDirectory _root = new("relay-test-bin-");

    [Fact]
    public void Locate_NothingOnPathOrInstallRoot_ThrowsWithInstallAdvice()
    {
        Directory.CreateDirectory(_root.Path);
        var locator = new PostgresBinaryLocator(searchPath: string.Empty, installRoot: _root.Path);

        var locate = () => locator.Locate();

        locate.Should().Throw<PostgresNotInstalledException>()
            .WithMessage("*initdb, pg_ctl, postgres*were not found on PATH*apt-get install postgresql*--database*");
    }

    [Fact]
    public void Locate_SeveralInstalledVersions_PicksHighest()
    {
        FakeInstall("9.6");
        FakeInstall("15");
        FakeInstall("16");
        var locator = new PostgresBinaryLocator(searchPath: string.Empty, installRoot: _root.Path);

        locator.Locate().BinDirectory.Should().Be(Path.Combine(_root.Path, "16", "bin"));
    }

    [Fact]
    public void Locate_ExistingClusterVersionInstalled_PrefersItOverPathAndNewer()
    {
        FakeInstall("15");
        FakeInstall("16");
        var onPath = FakeBinDirectory(Path.Combine(_root.Path, "path-bin"));
        var locator = new PostgresBinaryLocator(searchPath: onPath, installRoot: _root.Path);

        locator.Locate(preferredMajorVersion: "15").BinDirectory.Should().Be(Path.Combine(_root.Path, "15", "bin"));
        locator.Locate().BinDirectory.Should().Be(onPath);
    }

    [Fact]
    public void Locate_PathDirectoryMissingOneProgram_IsSkipped()
    {
        var incomplete = FakeBinDirectory(Path.Combine(_root.Path, "incomplete"));
        File.Delete(Path.Combine(incomplete, "pg_ctl"));
        FakeInstall("15");
        var locator = new PostgresBinaryLocator(searchPath: incomplete, installRoot: _root.Path);

        locator.Locate().BinDirectory.Should().Be(Path.Combine(_root.Path, "15", "bin"));
    }

    [Fact]
    public void Locate_ConfiguredDirectoryWithoutPrograms_NamesWhatIsMissing()
    {
        var configured = Directory.CreateDirectory(Path.Combine(_root.Path, "configured")).FullName;
        var locator = new PostgresBinaryLocator(searchPath: string.Empty, installRoot: _root.Path);

        var locate = () => locator.Locate(binDirectory: configured);

        locate.Should().Throw<PostgresNotInstalledException>().WithMessage($"*'{configured}' does not contain initdb, pg_ctl, postgres*");
    }

    public void Dispose() => _root.Dispose();

    private void FakeInstall(string version) => FakeBinDirectory(Path.Combine(_root.Path, version, "bin"));

    private static string FakeBinDirectory(string directory)
    {
        Directory.CreateDirectory(directory);
        foreach (var name in new[] { "initdb", "pg_ctl", "postgres" })
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, "#!/bin/sh\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return directory;
    }
}
