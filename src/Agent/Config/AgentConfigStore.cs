using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Relay.Protocol.Local;

namespace Relay.Agent.Config;

/// <summary>
/// Reads and writes <c>agent.json</c>. Writes are atomic (temporary file, fsync, rename) and the file is created
/// 0600 from the start, so a crash never leaves a half-written credential and no other user ever can read it.
/// </summary>
internal sealed class AgentConfigStore
{
    public const string FileName = "agent.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public AgentConfigStore(string directory)
    {
        Directory = directory;
    }

    /// <summary>The store for this user, honouring <c>RELAY_AGENT_CONFIG_DIR</c> and <c>XDG_CONFIG_HOME</c>.</summary>
    public static AgentConfigStore ForCurrentUser() => new(LocalAgentPaths.ConfigDirectory());

    public string Directory { get; }

    public string FilePath => Path.Combine(Directory, FileName);

    /// <summary>The configuration, or an empty one when the file does not exist yet.</summary>
    /// <exception cref="AgentConfigException">The file exists but cannot be read or parsed.</exception>
    public AgentConfig Load()
    {
        if (!File.Exists(FilePath))
        {
            return new AgentConfig();
        }

        try
        {
            return JsonSerializer.Deserialize<AgentConfig>(File.ReadAllText(FilePath), Json) ?? new AgentConfig();
        }
        catch (JsonException ex)
        {
            throw new AgentConfigException(FilePath + " is not valid JSON (" + ex.Message + "). Fix it, or delete it and run 'relay-agent enroll' again.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AgentConfigException("Cannot read " + FilePath + ": " + ex.Message, ex);
        }
    }

    /// <summary>Writes <paramref name="config"/> atomically with mode 0600 (directory 0700).</summary>
    public void Save(AgentConfig config)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var temporary = FilePath + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var options = new FileStreamOptions
            {
                Mode = FileMode.Create,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, config, Json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, FilePath, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AgentConfigException("Cannot write " + FilePath + ": " + ex.Message, ex);
        }
    }

    /// <summary>
    /// The configuration with a hook secret, creating and saving one when there is none yet (the installer and the
    /// daemon both need it; whichever runs first makes it).
    /// </summary>
    public AgentConfig EnsureHookSecret()
    {
        var config = Load();
        if (!string.IsNullOrEmpty(config.HookSecret))
        {
            return config;
        }

        config = config with { HookSecret = "relay_hook_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)) };
        Save(config);
        return config;
    }
}

/// <summary>The agent's configuration file is missing something or cannot be used; the message says how to fix it.</summary>
internal sealed class AgentConfigException(string message, Exception? inner = null) : Exception(message, inner);
