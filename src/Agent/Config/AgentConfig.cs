using System.Text.Json.Serialization;

namespace Relay.Agent.Config;

/// <summary>
/// The agent's persistent configuration, <c>agent.json</c> in <see cref="Relay.Protocol.Local.LocalAgentPaths.ConfigDirectory"/>
/// (mode 0600: it holds the machine credential and the hook secret). Written by <c>relay-agent enroll</c> and
/// <c>relay-agent install</c>; read by every command.
/// </summary>
internal sealed record AgentConfig
{
    /// <summary>The broker's gRPC address (<c>host:port</c>, <c>https://host:port</c> or <c>unix:/path</c>).</summary>
    [JsonPropertyName("broker")]
    public string? BrokerAddress { get; init; }

    /// <summary>A PEM file with the CA that signs the broker's certificate; empty = the system roots.</summary>
    [JsonPropertyName("ca_cert")]
    public string? CaCertificatePath { get; init; }

    /// <summary>The machine id from enrolment.</summary>
    [JsonPropertyName("machine_id")]
    public string? MachineId { get; init; }

    /// <summary>The machine name from enrolment.</summary>
    [JsonPropertyName("machine_name")]
    public string? MachineName { get; init; }

    /// <summary>The machine credential (bearer token for AgentLink.Connect).</summary>
    [JsonPropertyName("credential")]
    public string? Credential { get; init; }

    /// <summary>When the machine was enrolled.</summary>
    [JsonPropertyName("enrolled_at")]
    public DateTimeOffset? EnrolledAt { get; init; }

    /// <summary>The per-user secret Claude Code's http hooks must send (header <see cref="HookSecretHeader"/>).</summary>
    [JsonPropertyName("hook_secret")]
    public string? HookSecret { get; init; }

    /// <summary>The loopback port of the http hook endpoint; it is written into Claude Code's settings, so it is stable.</summary>
    [JsonPropertyName("hook_port")]
    public int HookPort { get; init; } = DefaultHookPort;

    /// <summary>The header that carries <see cref="HookSecret"/>.</summary>
    public const string HookSecretHeader = "X-Relay-Hook-Secret";

    /// <summary>The default loopback port of the http hook endpoint.</summary>
    public const int DefaultHookPort = 7471;

    /// <summary>True when the machine is enrolled (broker, id and credential are all present).</summary>
    [JsonIgnore]
    public bool IsEnrolled =>
        !string.IsNullOrEmpty(BrokerAddress) && !string.IsNullOrEmpty(MachineId) && !string.IsNullOrEmpty(Credential);

    /// <summary>The http hook endpoint's URL as Claude Code is told to call it.</summary>
    [JsonIgnore]
    public string HookUrl => "http://127.0.0.1:" + HookPort.ToString(System.Globalization.CultureInfo.InvariantCulture) + "/hooks";
}
