using Relay.Broker.Persistence;
using Relay.Protocol.V1;

namespace Relay.Broker.Sessions;

/// <summary>SessionEvidence's fields, checked and parsed; anything malformed rejects the message.</summary>
internal readonly record struct Evidence(
    Guid? ClaudeSessionId,
    Guid? SessionId,
    Guid? LaunchId,
    int? ClaudePid,
    DateTimeOffset? ClaudeStartedAt,
    string Cwd,
    string? ProjectDir)
{
    public static Evidence Read(SessionEvidence? evidence, string field)
    {
        evidence ??= new SessionEvidence();
        return new Evidence(
            OptionalUuid(evidence.ClaudeSessionId, field + ".claude_session_id"),
            OptionalUuid(evidence.SessionId, field + ".session_id"),
            OptionalClientId("launch", evidence.LaunchId, field + ".launch_id"),
            evidence.ClaudePid > 0 ? evidence.ClaudePid : null,
            evidence.ClaudeStartedAt?.ToDateTimeOffset(),
            Bounded(evidence.Cwd, Limits.Path, field + ".cwd"),
            evidence.ProjectDir.Length == 0 ? null : Bounded(evidence.ProjectDir, Limits.Path, field + ".project_dir"));
    }

    public bool IsEmpty => ClaudeSessionId is null && SessionId is null && LaunchId is null && ClaudePid is null;

    public static Guid? OptionalUuid(string value, string field) =>
        value.Length == 0 ? null
        : Guid.TryParse(value, out var id) ? id
        : throw new MessageRejectedException(ErrorCode.InvalidArgument, $"{field}: '{Clip(value)}' is not a UUID.");

    /// <summary>A client-generated id (common.proto rules) as the UUID it is stored under.</summary>
    public static Guid? OptionalClientId(string scope, string value, string field)
    {
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Length > Limits.IdempotencyKey || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
        {
            throw new MessageRejectedException(ErrorCode.InvalidArgument, $"{field}: '{Clip(value)}' is not a valid id (at most 128 of [A-Za-z0-9._:-]).");
        }

        return Queries.ClientIds.ToGuid(scope, value);
    }

    public static Guid RequiredClientId(string scope, string value, string field) =>
        OptionalClientId(scope, value, field) ?? throw new MessageRejectedException(ErrorCode.InvalidArgument, $"{field} must not be empty.");

    public static Guid RequiredUuid(string value, string field) =>
        OptionalUuid(value, field) ?? throw new MessageRejectedException(ErrorCode.InvalidArgument, $"{field} must not be empty.");

    public static string Bounded(string value, int maxLength, string field) =>
        value.Length <= maxLength ? value
        : throw new MessageRejectedException(ErrorCode.InvalidArgument, $"{field} is {value.Length} characters; at most {maxLength} are accepted.");

    /// <summary>Display text cut to what its column holds (descriptions and previews are informative, not keys).</summary>
    public static string Truncate(string value, int maxLength) => value.Length <= maxLength ? value : value[..(maxLength - 1)] + "…";

    private static string Clip(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
