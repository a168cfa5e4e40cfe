using System.Security.Cryptography;

namespace Relay.Broker.Tests.Infrastructure;

/// <summary>
/// A not-yet-existing path under /tmp for a test's data directory, deleted on dispose. EmbeddedPostgres creates it,
/// so that when the tests run as root the 'postgres' account can pass through it (a 0700 temp directory would not do).
/// </summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "relay-test-")
    {
        Path = System.IO.Path.Combine("/tmp", prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a server that failed to stop may still hold files.
        }
    }
}
