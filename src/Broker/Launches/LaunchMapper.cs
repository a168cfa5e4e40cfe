using Google.Protobuf.WellKnownTypes;
using Relay.Broker.Audit;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Launches;

/// <summary>Launch rows as relay.v1 messages.</summary>
internal static class LaunchMapper
{
    public static Pb.Launch ToProto(Db.Launch launch, string machineName, IReadOnlyDictionary<string, Pb.Principal>? principals = null)
    {
        var result = new Pb.Launch
        {
            LaunchId = launch.Id.ToString("D"),
            MachineId = launch.MachineId.ToString("D"),
            MachineName = machineName,
            SessionId = launch.RelaySessionId?.ToString("D") ?? "",
            Cwd = launch.Cwd,
            Name = launch.Name ?? "",
            InitialPromptId = launch.InitialPromptId?.ToString("D") ?? "",
            Status = ToProto(launch.Status),
            RequestedBy = principals?.GetValueOrDefault(launch.RequestedBy) ?? AuditLog.ActorPrincipal(launch.RequestedBy),
            RequestedAt = Timestamp.FromDateTimeOffset(launch.CreatedAt),
            StartedAt = launch.StartedAt is { } started ? Timestamp.FromDateTimeOffset(started) : null,
            ClaudeSessionId = launch.ClaudeSessionId?.ToString("D") ?? "",
            TmuxTarget = launch.TmuxTarget ?? "",
            ClaudePid = launch.ClaudePid ?? 0,
            // launches.result is what the agent reported; for a failed launch, why.
            Error = launch.Status == Db.LaunchStatus.Failed ? launch.Result ?? "" : "",
            Local = launch.Local,
        };
        result.ClaudeArgs.AddRange(launch.ClaudeArgs);
        return result;
    }

    public static Pb.LaunchStatus ToProto(Db.LaunchStatus status) => status switch
    {
        Db.LaunchStatus.Requested => Pb.LaunchStatus.Requested,
        Db.LaunchStatus.Sent => Pb.LaunchStatus.Sent,
        // A stopped launch did start; its session's end tells the rest.
        Db.LaunchStatus.Started or Db.LaunchStatus.Stopped => Pb.LaunchStatus.Started,
        Db.LaunchStatus.Failed => Pb.LaunchStatus.Failed,
        _ => Pb.LaunchStatus.Unspecified,
    };
}
