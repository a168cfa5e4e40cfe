namespace Relay.Broker.Persistence.Entities;

/// <summary>Who did what, to what, when: every prompt, approval, launch and token change.</summary>
internal sealed class AuditEntry
{
    public long Id { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary>The caller: "token:&lt;id&gt;", "machine:&lt;id&gt;", "session:&lt;id&gt;" or "system".</summary>
    public required string Actor { get; set; }

    /// <summary>A dotted verb: "prompt.send", "approval.decide", "token.revoke", ...</summary>
    public required string Action { get; set; }

    public string? Target { get; set; }

    /// <summary>JSON (jsonb).</summary>
    public string? Details { get; set; }
}
