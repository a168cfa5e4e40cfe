using System.Globalization;
using System.Net.Sockets;

namespace Relay.Agent.Hosting;

/// <summary>
/// The agent's claim on its Unix socket path: the socket's directory is private (created 0700; refused when it belongs
/// to another uid or is open to group or others), one daemon per socket (an exclusive lock on <c>&lt;socket&gt;.lock</c>
/// held for the daemon's life), and a socket file left by a dead daemon is removed only when nothing answers on it.
/// Disposing releases the claim and removes the socket file.
/// </summary>
internal sealed class LocalSocket : IDisposable
{
    private const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The socket's mode after bind.</summary>
    public const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly FileStream _lock;
    private bool _disposed;

    private LocalSocket(string path, FileStream lockFile)
    {
        Path = path;
        _lock = lockFile;
    }

    /// <summary>The socket path.</summary>
    public string Path { get; }

    /// <summary>Claims <paramref name="path"/> for this daemon.</summary>
    /// <exception cref="AgentStartupException">The directory is not private, another daemon runs, or the path is taken.</exception>
    public static LocalSocket Claim(string path)
    {
        if (!System.IO.Path.IsPathFullyQualified(path))
        {
            throw new AgentStartupException("The socket path '" + path + "' is not absolute; set RELAY_AGENT_SOCKET to an absolute path.", 2);
        }

        var directory = System.IO.Path.GetDirectoryName(path)!;
        PrepareDirectory(directory);

        var lockPath = path + ".lock";
        var pidPath = path + ".pid";
        FileStream lockFile;
        try
        {
            // FileShare.None takes an exclusive flock(2): a second daemon fails here at once, and a crashed one leaves no lock.
            lockFile = new FileStream(lockPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException)
        {
            throw new AgentStartupException(
                "Another relay-agent is already running on " + path + OwnerOf(pidPath) + ". Stop it first (systemctl --user stop relay-agent), or give this one its own RELAY_AGENT_SOCKET.", 1);
        }

        try
        {
            // The pid goes into a file of its own: the locked file cannot be read by anyone else (.NET locks on read too).
            File.WriteAllText(pidPath, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            RemoveStaleSocket(path);
            return new LocalSocket(path, lockFile);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Makes the socket 0600; called once Kestrel has bound it.</summary>
    public void RestrictMode() => File.SetUnixFileMode(Path, SocketMode);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Still holding the lock: the socket file is ours to remove.
        try
        {
            if (UnixNative.Stat(Path) is { IsSocket: true })
            {
                File.Delete(Path);
            }
        }
        catch (IOException)
        {
        }

        _lock.Dispose();
    }

    private static void PrepareDirectory(string directory)
    {
        var stat = UnixNative.Stat(directory);
        if (stat is null)
        {
            try
            {
                Directory.CreateDirectory(directory, PrivateDirectory);
                File.SetUnixFileMode(directory, PrivateDirectory);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new AgentStartupException("Cannot create the socket directory " + directory + ": " + ex.Message, 2);
            }

            return;
        }

        var me = UnixNative.EffectiveUserId();
        if (stat.Value.OwnerUid != me)
        {
            throw new AgentStartupException(
                "The socket directory " + directory + " belongs to uid " + stat.Value.OwnerUid + ", not to you (uid " + me
                + "). Point RELAY_AGENT_SOCKET into a directory of your own, or remove " + directory + " so the agent creates it.", 2);
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & GroupOrOther) != 0)
        {
            throw new AgentStartupException(
                "The socket directory " + directory + " is open to other users (mode " + Octal(mode) + "); it must be private: run 'chmod 700 "
                + directory + "'.", 2);
        }
    }

    private static void RemoveStaleSocket(string path)
    {
        var stat = UnixNative.Stat(path);
        if (stat is null)
        {
            return;
        }

        if (!stat.Value.IsSocket)
        {
            throw new AgentStartupException(path + " exists and is not a socket; remove it, or set RELAY_AGENT_SOCKET to another path.", 2);
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            // Non-blocking: a Unix connect answers at once (refused when nobody listens, would-block when a listener's
            // backlog is full, which still means somebody is there).
            probe.Blocking = false;
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw SomebodyServes(path);
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress or SocketError.TryAgain)
            {
                throw SomebodyServes(path);
            }
            catch (SocketException)
            {
                // Nobody answers: a daemon died and left its socket file behind.
            }
        }

        File.Delete(path);
    }

    private static AgentStartupException SomebodyServes(string path) => new(
        "Something already serves " + path + " (a relay-agent started without its lock file?). Stop it, or set RELAY_AGENT_SOCKET to another path.", 1);

    private static string OwnerOf(string pidPath)
    {
        try
        {
            var pid = File.ReadAllText(pidPath).Trim();
            return pid.Length is > 0 and < 12 ? " (pid " + pid + ")" : string.Empty;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}
