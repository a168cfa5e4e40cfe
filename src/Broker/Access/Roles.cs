using Relay.Broker.Persistence.Entities;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>Conversions between the contract's <see cref="Role"/> and the stored <see cref="TokenRole"/>, and role names for messages.</summary>
internal static class Roles
{
    public static Role ToRole(this TokenRole role) => role switch
    {
        TokenRole.Viewer => Role.Viewer,
        TokenRole.Operator => Role.Operator,
        TokenRole.Admin => Role.Admin,
        _ => Role.Unspecified,
    };

    public static TokenRole ToTokenRole(this Role role) => role switch
    {
        Role.Viewer => TokenRole.Viewer,
        Role.Operator => TokenRole.Operator,
        Role.Admin => TokenRole.Admin,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Only viewer, operator and admin are granted."),
    };

    /// <summary>The name people type: viewer, operator, admin.</summary>
    public static string Name(this Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Operator => "operator",
        Role.Admin => "admin",
        _ => "none",
    };
}
