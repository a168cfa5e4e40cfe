namespace Relay.Broker.Persistence.Entities;

/// <summary>A personal token for people and scripts. Only its SHA-256 is stored.</summary>
internal sealed class ApiToken
{
    public Guid Id { get; set; }

    public required string Name { get; set; }

    public TokenRole Role { get; set; }

    public required byte[] TokenHash { get; set; }

    public required string CreatedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}
