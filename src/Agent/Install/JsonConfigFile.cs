using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Relay.Agent.Install;

/// <summary>
/// One of the user's JSON configuration files, edited with care: parsed into a <see cref="JsonObject"/> (which keeps
/// the order of every key and the exact text of every number), changed in memory, and written back only when the
/// content really changed — atomically (temporary file, fsync, rename), with the file's mode kept, through a symlink
/// to its target, and never over a change someone else made after it was read (Claude Code rewrites
/// <c>~/.claude.json</c> while it runs).
/// </summary>
internal sealed class JsonConfigFile
{
    private const UnixFileMode PrivateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        WriteIndented = true,
        IndentSize = 2,
        NewLine = "\n",
        // Claude Code writes these files with JSON.stringify, which leaves non-ASCII text and <>&' as they are.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private static readonly JsonDocumentOptions ReadOptions = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 256,
    };

    private readonly string _originalText;

    private JsonConfigFile(string path, string targetPath, string displayPath, byte[]? originalBytes, JsonObject root, UnixFileMode? mode)
    {
        Path = path;
        TargetPath = targetPath;
        DisplayPath = displayPath;
        OriginalBytes = originalBytes;
        Root = root;
        ExistingMode = mode;
        _originalText = Render(root, EndsWithNewline);
    }

    /// <summary>The path as named (may be a symlink).</summary>
    public string Path { get; }

    /// <summary>The file actually written: <see cref="Path"/> with symlinks resolved.</summary>
    public string TargetPath { get; }

    /// <summary>The path for messages (<c>~/...</c>).</summary>
    public string DisplayPath { get; }

    /// <summary>The file's bytes when it was read; null when it did not exist.</summary>
    public byte[]? OriginalBytes { get; }

    /// <summary>True when the file existed when it was read.</summary>
    public bool Exists => OriginalBytes is not null;

    /// <summary>The file's mode when it was read; null when it did not exist.</summary>
    public UnixFileMode? ExistingMode { get; }

    /// <summary>The content, to be changed in place by the caller.</summary>
    public JsonObject Root { get; }

    /// <summary>True when the existing file can be read by the group or others.</summary>
    public bool IsGroupOrWorldAccessible => ExistingMode is { } mode && (mode & GroupOrOther) != 0;

    /// <summary>The content as it was read, in the form this class writes (for diffs).</summary>
    public string OriginalText => _originalText;

    /// <summary>True when writing the file would change more than <see cref="Root"/> (the user's own formatting).</summary>
    public bool WouldReformat => Exists && !OriginalBytes.AsSpan().SequenceEqual(Encoding.UTF8.GetBytes(_originalText));

    /// <summary>True when <see cref="Root"/> differs from what was read.</summary>
    public bool IsChanged => !string.Equals(_originalText, CurrentText, StringComparison.Ordinal);

    /// <summary>The content as it would be written now.</summary>
    public string CurrentText => Render(Root, EndsWithNewline);

    private bool EndsWithNewline => OriginalBytes is not { Length: > 0 } bytes || bytes[^1] == (byte)'\n';

    /// <summary>Reads and parses <paramref name="path"/>; a missing file reads as an empty object.</summary>
    /// <exception cref="InstallException">The file exists but is not a JSON object, or cannot be read.</exception>
    public static JsonConfigFile Load(string path, string displayPath)
    {
        var target = ResolveTarget(path);
        byte[]? bytes;
        UnixFileMode? mode = null;
        try
        {
            bytes = File.Exists(target) ? File.ReadAllBytes(target) : null;
            if (bytes is not null)
            {
                mode = File.GetUnixFileMode(target);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InstallException("Cannot read " + displayPath + ": " + ex.Message);
        }

        return new JsonConfigFile(path, target, displayPath, bytes, Parse(bytes, displayPath), mode);
    }

    /// <summary>
    /// Writes <see cref="CurrentText"/> when the content changed. A backup of the previous file is kept first when
    /// <paramref name="backupStamp"/> is given; a new file is created 0600; an existing one keeps its mode unless
    /// <paramref name="makePrivate"/> asks for 0600.
    /// </summary>
    /// <returns>The backup's path, or null when none was made.</returns>
    /// <exception cref="ConcurrentChangeException">The file changed on disk since it was read; read it again.</exception>
    /// <exception cref="InstallException">The file cannot be written.</exception>
    public string? Write(string? backupStamp, bool makePrivate)
    {
        var directory = System.IO.Path.GetDirectoryName(TargetPath)!;
        var temporary = TargetPath + ".relay-tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        try
        {
            if (!Directory.Exists(directory))
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            string? backup = null;
            if (backupStamp is not null && OriginalBytes is not null)
            {
                backup = TargetPath + ".relay-backup-" + backupStamp;
                WriteNew(backup, OriginalBytes, PrivateMode);
            }

            var mode = ExistingMode is not { } existing ? PrivateMode : makePrivate ? existing & ~GroupOrOther : existing;
            WriteNew(temporary, Encoding.UTF8.GetBytes(CurrentText), mode);
            // The unavoidable window is from this read to the rename; it is as short as we can make it.
            if (!UnchangedOnDisk())
            {
                File.Delete(temporary);
                throw new ConcurrentChangeException(DisplayPath + " changed while it was being edited.");
            }

            File.Move(temporary, TargetPath, overwrite: true);
            return backup;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new InstallException("Cannot write " + DisplayPath + ": " + ex.Message + ". Nothing was changed in it.");
        }
    }

    /// <summary>Text in the form this class writes.</summary>
    public static string Render(JsonNode node, bool endWithNewline = true)
    {
        var text = node.ToJsonString(WriteOptions);
        return endWithNewline ? text + "\n" : text;
    }

    private static JsonObject Parse(byte[]? bytes, string displayPath)
    {
        if (bytes is null)
        {
            return [];
        }

        var span = bytes.AsSpan();
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            span = span[3..];
        }

        if (span.Trim((ReadOnlySpan<byte>)[(byte)' ', (byte)'\t', (byte)'\r', (byte)'\n']).IsEmpty)
        {
            return [];
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(span, documentOptions: ReadOptions);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line
                ? " at line " + (line + 1).ToString(CultureInfo.InvariantCulture) + ", column " + ((ex.BytePositionInLine ?? 0) + 1).ToString(CultureInfo.InvariantCulture)
                : string.Empty;
            throw new InstallException(displayPath + " is not valid JSON" + where + ". Fix it (or move it away) and run the command again; nothing was written.");
        }

        if (node is not JsonObject root)
        {
            throw new InstallException(displayPath + " does not hold a JSON object. Fix it (or move it away) and run the command again; nothing was written.");
        }

        try
        {
            // JsonObject builds its dictionary lazily: force it now, so duplicate keys fail here and not while editing.
            _ = root.Count;
            _ = Render(root);
        }
        catch (ArgumentException ex)
        {
            throw new InstallException(displayPath + " is not usable JSON (" + ex.Message + "). Fix it and run the command again; nothing was written.");
        }

        return root;
    }

    private bool UnchangedOnDisk()
    {
        if (!File.Exists(TargetPath))
        {
            return OriginalBytes is null;
        }

        return OriginalBytes is not null && File.ReadAllBytes(TargetPath).AsSpan().SequenceEqual(OriginalBytes);
    }

    private static void WriteNew(string path, byte[] content, UnixFileMode mode)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = mode };
        using (var stream = new FileStream(path, options))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        // UnixCreateMode is filtered by the umask and does not apply to an existing file; set it exactly.
        File.SetUnixFileMode(path, mode);
    }

    private static string ResolveTarget(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temporary file is harmless and named after its process.
        }
    }
}

/// <summary>A configuration file cannot be used or written; the message says what to do. Nothing was written.</summary>
internal sealed class InstallException(string message) : Exception(message);

/// <summary>The file changed on disk between reading and writing it.</summary>
internal sealed class ConcurrentChangeException(string message) : Exception(message);
