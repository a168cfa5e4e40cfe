namespace Relay.Cli;

/// <summary>Every exit code relayctl uses; scripts may rely on them.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>Any other failure (the broker refused the request, a file could not be read...).</summary>
    public const int Error = 1;

    /// <summary>The command line is wrong: unknown command, missing argument, bad value, no broker configured.</summary>
    public const int Usage = 2;

    /// <summary>The named session, machine, token or prompt does not exist.</summary>
    public const int NotFound = 3;

    /// <summary>The token is missing, invalid or revoked, or its role does not allow the call.</summary>
    public const int AccessDenied = 4;

    /// <summary>The broker cannot be reached, or it cannot reach its database; retrying may help.</summary>
    public const int Unavailable = 5;

    /// <summary>The answer did not come in time (a call's deadline, or <c>send --wait --timeout</c>).</summary>
    public const int Timeout = 6;

    /// <summary>Ctrl-C or SIGTERM ended the command (128 + SIGINT, as shells report it); <c>watch</c> exits 0 instead.</summary>
    public const int Interrupted = 130;
}
