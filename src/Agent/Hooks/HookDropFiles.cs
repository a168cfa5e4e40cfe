using Google.Protobuf;
using Relay.Agent.Hooks.Client;
using Relay.Protocol.V1;

namespace Relay.Agent.Hooks;

/// <summary>
/// The drop directory (<see cref="Relay.Protocol.Local.LocalAgentPaths.HookDropDirectory"/>): one binary
/// <see cref="HookRequest"/> per file, named <c>&lt;event id&gt;.hook</c>, written by the hook client when the agent did
/// not answer and replayed by the agent. Files appear atomically (temporary name, then rename), so a reader never sees a
/// half-written one.
/// </summary>
internal static class HookDropFiles
{
    public const string Extension = ".hook";
    public const string MalformedDirectoryName = "malformed";
    private const string TemporaryPrefix = ".tmp-";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes <paramref name="request"/> into <paramref name="directory"/> (created 0700) as a 0600 file.</summary>
    public static string Write(string directory, HookRequest request) => Write(directory, request.EventId, request.ToByteArray());

    /// <summary>Writes a serialized HookRequest whose event id is <paramref name="eventId"/> (the hook client has the bytes it sent).</summary>
    /// <remarks>
    /// On bare libc calls (<see cref="UnixFile"/>), not FileStream, File and Directory: the hook client that writes this
    /// is a process of one call, and their first use costs it several milliseconds (docs/agent.md, "Hook client start time").
    /// </remarks>
    /// <exception cref="IOException">The directory or the file could not be created, written, flushed or renamed.</exception>
    public static string Write(string directory, string eventId, ReadOnlySpan<byte> serializedRequest)
    {
        UnixFile.CreateDirectory(directory, DirectoryMode);
        var name = SafeName(eventId);
        var final = Path.Combine(directory, name + Extension);
        UnixFile.WriteDurably(Path.Combine(directory, TemporaryPrefix + name), final, serializedRequest, FileMode);
        return final;
    }

    /// <summary>The drop files in <paramref name="directory"/>, oldest first; none when it does not exist.</summary>
    public static IReadOnlyList<FileInfo> List(string directory)
    {
        var info = new DirectoryInfo(directory);
        if (!info.Exists)
        {
            return [];
        }

        return info.EnumerateFiles("*" + Extension, SearchOption.TopDirectoryOnly)
            .OrderBy(f => f.LastWriteTimeUtc)
            .ThenBy(f => f.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Temporary files left by a hook client that died mid-write, older than <paramref name="age"/>.</summary>
    public static IEnumerable<FileInfo> StaleTemporaries(string directory, DateTimeOffset now, TimeSpan age)
    {
        var info = new DirectoryInfo(directory);
        return info.Exists
            ? info.EnumerateFiles(TemporaryPrefix + "*", SearchOption.TopDirectoryOnly).Where(f => now - f.LastWriteTimeUtc > age)
            : [];
    }

    /// <summary>Moves a file the agent cannot use into <c>malformed/</c> beside it, keeping it for inspection.</summary>
    public static string MoveAside(FileInfo file)
    {
        var aside = Path.Combine(file.DirectoryName!, MalformedDirectoryName);
        Directory.CreateDirectory(aside, DirectoryMode);
        var target = Path.Combine(aside, file.Name);
        File.Move(file.FullName, target, overwrite: true);
        return target;
    }

    // Event ids are GUIDs from our own client; anything else is reduced to a harmless file name.
    private static string SafeName(string eventId)
    {
        Span<char> name = stackalloc char[80];
        var length = 0;
        foreach (var c in eventId)
        {
            if (length == name.Length)
            {
                break;
            }

            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            {
                name[length++] = c;
            }
        }

        return length > 0 ? new string(name[..length]) : Guid.NewGuid().ToString();
    }
}
