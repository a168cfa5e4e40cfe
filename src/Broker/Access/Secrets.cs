using Relay.Broker.Persistence;

namespace Relay.Broker.Access;

/// <summary>
/// The broker's secrets. Each kind has its own prefix so a leaked one is easy to grep for (and to recognise in a
/// support request), and so a secret presented in the wrong place gets a message naming what it is.
/// </summary>
internal static class Secrets
{
    /// <summary>Personal tokens of people and scripts (Admin calls).</summary>
    public const string PersonalTokenPrefix = "relay_pat_";

    /// <summary>Machine credentials of agents (AgentLink.Connect).</summary>
    public const string MachineCredentialPrefix = "relay_mc_";

    /// <summary>One-time enrolment tokens (AgentLink.Enroll).</summary>
    public const string EnrollmentTokenPrefix = "relay_enr_";

    /// <summary>How many random characters after the prefix ListTokens shows, to tell tokens apart without revealing them.</summary>
    private const int VisibleRandomCharacters = 4;

    /// <summary>Anything longer is not a secret of ours; refusing it early avoids hashing arbitrarily large headers.</summary>
    public const int MaxLength = 256;

    public static string NewPersonalToken() => TokenHash.NewToken(PersonalTokenPrefix);

    public static string NewMachineCredential() => TokenHash.NewToken(MachineCredentialPrefix);

    public static string NewEnrollmentToken() => TokenHash.NewToken(EnrollmentTokenPrefix);

    /// <summary>The recognisable beginning of a personal token (its prefix and a few random characters).</summary>
    public static string VisiblePrefix(string secret) =>
        secret[..Math.Min(secret.Length, PersonalTokenPrefix.Length + VisibleRandomCharacters)];
}
