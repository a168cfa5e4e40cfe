using Relay.Broker.Briefings;
using Relay.Broker.Validation;

namespace Relay.Broker.ServerInfo;

/// <summary>The limits GetServerInfo advertises (ServerLimits in admin_access.proto), in one place for every feature to enforce.</summary>
internal static class BrokerLimits
{
    /// <summary>Longest prompt text, in characters.</summary>
    public const int MaxPromptChars = 100_000;

    /// <summary>Longest briefing text, in characters.</summary>
    public const int MaxBriefingChars = BriefingStore.MaxTextLength;

    /// <summary>Largest page_size honoured.</summary>
    public const int MaxPageSize = PageToken.MaxPageSize;

    /// <summary>Expiry of a prompt sent without expires_in.</summary>
    public static readonly TimeSpan DefaultPromptTtl = TimeSpan.FromHours(24);
}
