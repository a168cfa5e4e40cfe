using Google.Protobuf;
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
    public static string Write(string directory, string eventId, ReadOnlySpan<byte> serializedRequest)
    {
        Directory.CreateDirectory(directory, DirectoryMode);
        var name = SafeName(eventId);
        var final = Path.Combine(directory, name + Extension);
        var temporary = Path.Combine(directory, TemporaryPrefix + name);
        var options = new FileStreamOptions
        {
            Mode = System.IO.FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = FileMode,
        };
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(serializedRequest);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, final, overwrite: true);
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
        var name = new string(eventId.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_').Take(80).ToArray());
        return name.Length > 0 ? name : Guid.NewGuid().ToString();
    }
}
