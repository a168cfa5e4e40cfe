namespace Relay.Broker.Postgres;

/// <summary>Directory creation with Unix permissions (no-ops for the mode on Windows, where the broker does not run a cluster).</summary>
internal static class UnixFiles
{
    public static DirectoryInfo CreateDirectory(string path, UnixFileMode mode) =>
        OperatingSystem.IsWindows() ? Directory.CreateDirectory(path) : Directory.CreateDirectory(path, mode);

    public static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    public static bool HasMode(string path, UnixFileMode mode) =>
        OperatingSystem.IsWindows() || File.GetUnixFileMode(path) == mode;
}
