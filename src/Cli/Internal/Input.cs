namespace Relay.Cli.Internal;

/// <summary>Reading what the user points relayctl at, with errors that name the file.</summary>
internal static class Input
{
    public static async Task<string> ReadFileAsync(FileInfo file, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(file.FullName, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.Usage, "cannot read " + file.FullName + ": " + e.Message);
        }
    }
}
