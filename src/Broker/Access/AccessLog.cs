namespace Relay.Broker.Access;

// EventIds 2000-2029: authentication, authorization and the first admin token. Secrets are never logged.
internal static partial class AccessLog
{
    [LoggerMessage(EventId = 2000, EventName = "CredentialRefused", Level = LogLevel.Information,
        Message = "Refused a {Kind} from {RemoteAddress}: {Reason}")]
    public static partial void Refused(ILogger logger, string kind, string remoteAddress, string reason);

    [LoggerMessage(EventId = 2001, EventName = "RoleInsufficient", Level = LogLevel.Information,
        Message = "Refused {Method} to token {TokenId} ({TokenName}): role {Role} is below {Required}")]
    public static partial void RoleInsufficient(ILogger logger, string method, string tokenId, string tokenName, Relay.Protocol.V1.Role role, Relay.Protocol.V1.Role required);

    [LoggerMessage(EventId = 2002, EventName = "CredentialMissing", Level = LogLevel.Debug,
        Message = "Refused {Method} from {RemoteAddress}: no bearer credential")]
    public static partial void CredentialMissing(ILogger logger, string method, string remoteAddress);

    [LoggerMessage(EventId = 2003, EventName = "LastUsedWriteFailed", Level = LogLevel.Warning,
        Message = "Could not record a credential's last use; the call goes ahead")]
    public static partial void LastUsedWriteFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2004, EventName = "EnrollRateLimited", Level = LogLevel.Warning,
        Message = "Refused AgentLink.Enroll from {RemoteAddress}: more than {Limit} attempts per minute")]
    public static partial void EnrollRateLimited(ILogger logger, string remoteAddress, int limit);

    [LoggerMessage(EventId = 2005, EventName = "DatabaseUnavailable", Level = LogLevel.Warning,
        Message = "{Method} failed because the database is unavailable; answering UNAVAILABLE")]
    public static partial void DatabaseUnavailable(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 2010, EventName = "AdminTokenCreated", Level = LogLevel.Information,
        Message = "First start: created an admin token (id {TokenId}). It is in {Path} (mode 0600): use it with relayctl, then create personal tokens and keep this one safe or revoke it")]
    public static partial void AdminTokenCreated(ILogger logger, Guid tokenId, string path);

    [LoggerMessage(EventId = 2011, EventName = "AdminTokenExists", Level = LogLevel.Debug,
        Message = "Personal tokens exist; no first-start admin token needed")]
    public static partial void AdminTokenExists(ILogger logger);

    [LoggerMessage(EventId = 2012, EventName = "TokenCreated", Level = LogLevel.Information,
        Message = "Token {TokenId} ({TokenName}, role {Role}) created by {Actor}")]
    public static partial void TokenCreated(ILogger logger, Guid tokenId, string tokenName, Relay.Protocol.V1.Role role, string actor);

    [LoggerMessage(EventId = 2013, EventName = "TokenRevoked", Level = LogLevel.Information,
        Message = "Token {TokenId} ({TokenName}) revoked by {Actor}")]
    public static partial void TokenRevoked(ILogger logger, Guid tokenId, string tokenName, string actor);
}
