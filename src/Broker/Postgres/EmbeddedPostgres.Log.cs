namespace Relay.Broker.Postgres;

// EventIds 1100-1199: embedded PostgreSQL.
internal sealed partial class EmbeddedPostgres
{
    [LoggerMessage(EventId = 1100, EventName = "PostgresBinaries", Level = LogLevel.Debug,
        Message = "Using the PostgreSQL server binaries in {BinDirectory}")]
    private partial void LogBinaries(string binDirectory);

    [LoggerMessage(EventId = 1101, EventName = "PostgresRunAs", Level = LogLevel.Information,
        Message = "The broker runs as root, so embedded PostgreSQL runs as the '{Account}' account")]
    private partial void LogRunningAs(string account);

    [LoggerMessage(EventId = 1102, EventName = "PostgresInitialising", Level = LogLevel.Information,
        Message = "Initialising a new embedded PostgreSQL cluster in {DataPath}")]
    private partial void LogInitialising(string dataPath);

    [LoggerMessage(EventId = 1103, EventName = "PostgresStarted", Level = LogLevel.Information,
        Message = "Embedded PostgreSQL is running on {DataPath}, socket directory {SocketDirectory}")]
    private partial void LogStarted(string dataPath, string socketDirectory);

    [LoggerMessage(EventId = 1104, EventName = "PostgresStopping", Level = LogLevel.Information,
        Message = "Stopping embedded PostgreSQL on {DataPath}")]
    private partial void LogStopping(string dataPath);

    [LoggerMessage(EventId = 1105, EventName = "PostgresStopped", Level = LogLevel.Information,
        Message = "Embedded PostgreSQL on {DataPath} stopped")]
    private partial void LogStopped(string dataPath);

    [LoggerMessage(EventId = 1106, EventName = "PostgresSocketPathTooLong", Level = LogLevel.Warning,
        Message = "The socket path under {Preferred} would be {Bytes} bytes, over the 107-byte Unix socket limit; using {Fallback} instead")]
    private partial void LogSocketPathTooLong(string preferred, int bytes, string fallback);

    [LoggerMessage(EventId = 1107, EventName = "PostgresLeftoverServer", Level = LogLevel.Warning,
        Message = "A PostgreSQL server from an earlier run is still running on {DataPath} (pid {Pid}); restarting it")]
    private partial void LogLeftoverServer(string dataPath, int pid);

    [LoggerMessage(EventId = 1108, EventName = "PostgresStalePidFile", Level = LogLevel.Warning,
        Message = "Removed the stale postmaster.pid in {DataPath} left by server pid {Pid}, which is no longer running")]
    private partial void LogRemovedStalePidFile(string dataPath, int pid);

    [LoggerMessage(EventId = 1109, EventName = "PostgresWaitingForOldProcesses", Level = LogLevel.Information,
        Message = "Waiting for processes of the previous server to exit: {Pids}")]
    private partial void LogWaitingForOldProcesses(string pids);

    [LoggerMessage(EventId = 1110, EventName = "PostgresIncompleteCluster", Level = LogLevel.Warning,
        Message = "Removed {DataPath}, left incomplete by an interrupted initialisation; initialising again")]
    private partial void LogRemovedIncompleteCluster(string dataPath);

    [LoggerMessage(EventId = 1111, EventName = "PostgresWaitingForServer", Level = LogLevel.Debug,
        Message = "Waiting for embedded PostgreSQL to accept connections: {Reason}")]
    private partial void LogWaitingForServer(string reason);

    [LoggerMessage(EventId = 1112, EventName = "PostgresDatabaseCreated", Level = LogLevel.Information,
        Message = "Created database {Database} in the embedded cluster")]
    private partial void LogCreatedDatabase(string database);

    [LoggerMessage(EventId = 1113, EventName = "PostgresFastStopFailed", Level = LogLevel.Warning,
        Message = "Fast shutdown of embedded PostgreSQL did not finish ({Output}); shutting down immediately")]
    private partial void LogFastStopFailed(string output);

    [LoggerMessage(EventId = 1114, EventName = "PostgresStopTimedOut", Level = LogLevel.Error,
        Message = "Embedded PostgreSQL on {DataPath} did not stop in time; it may still be running")]
    private partial void LogStopTimedOut(string dataPath);

    [LoggerMessage(EventId = 1115, EventName = "PostgresSocketDirectoryNotRemoved", Level = LogLevel.Warning,
        Message = "Could not remove the temporary socket directory {Directory}: {Reason}")]
    private partial void LogSocketDirectoryNotRemoved(string directory, string reason);
}
