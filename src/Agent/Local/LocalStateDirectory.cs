using Microsoft.Extensions.Options;
using Relay.Protocol.Local;

namespace Relay.Agent.Local;

/// <summary>Where the local side keeps its files: <see cref="LocalAgentOptions.StateDirectory"/>, else the user's default.</summary>
internal sealed class LocalStateDirectory
{
    public LocalStateDirectory(IOptions<LocalAgentOptions> options)
    {
        Path = options.Value.StateDirectory.Length > 0 ? options.Value.StateDirectory : LocalAgentPaths.StateDirectory();
    }

    public string Path { get; }

    /// <summary><paramref name="name"/> inside the state directory, which is created (0700) when missing.</summary>
    public string File(string name)
    {
        Directory.CreateDirectory(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return System.IO.Path.Combine(Path, name);
    }
}
