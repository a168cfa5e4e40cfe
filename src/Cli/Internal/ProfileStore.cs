using System.Text.Json;
using System.Text.Json.Serialization;

namespace Relay.Cli.Internal;

/// <summary>One saved connection.</summary>
internal sealed record Profile
{
    [JsonPropertyName("broker")]
    public required string Broker { get; init; }

    [JsonPropertyName("token")]
    public required string Token { get; init; }

    [JsonPropertyName("ca_cert")]
    public string? CaCert { get; init; }
}

/// <summary>The contents of relayctl.json.</summary>
internal sealed record ProfileFile
{
    [JsonPropertyName("current")]
    public string? Current { get; init; }

    [JsonPropertyName("profiles")]
    public Dictionary<string, Profile> Profiles { get; init; } = new(StringComparer.Ordinal);
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ProfileFile))]
internal sealed partial class ProfileJsonContext : JsonSerializerContext;

/// <summary>Reads and writes relayctl.json. It holds tokens, so it is written with mode 0600 in a 0700 directory.</summary>
internal sealed class ProfileStore(string directory)
{
    public const string FileName = "relayctl.json";
    public const string DefaultProfile = "default";

    public string FilePath { get; } = Path.Combine(directory, FileName);

    public async Task<ProfileFile> LoadAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(FilePath))
        {
            return new ProfileFile();
        }

        try
        {
            await using var stream = File.OpenRead(FilePath);
            return await JsonSerializer.DeserializeAsync(stream, ProfileJsonContext.Default.ProfileFile, cancellationToken) ?? new ProfileFile();
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Error, FilePath + " is not valid JSON (" + e.Message + "); fix or delete it, then run 'relayctl login'.");
        }
    }

    public async Task SaveAsync(ProfileFile file, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // Write a fresh 0600 file beside the old one and move it over, so the token is never world-readable,
        // not even for a moment, and a crash never leaves half a file.
        var temporary = FilePath + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var stream = new FileStream(temporary, options))
        {
            await JsonSerializer.SerializeAsync(stream, file, ProfileJsonContext.Default.ProfileFile, cancellationToken);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temporary, FilePath, overwrite: true);
    }
}
