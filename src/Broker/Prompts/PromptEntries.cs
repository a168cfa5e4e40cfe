using Relay.Broker.Queries;
using Relay.Broker.Watch.Timeline;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Prompts;

/// <summary>The event log entries prompts make: created (by Admin or a launch) and updated (expired, failed).</summary>
internal static class PromptEntries
{
    /// <summary>The id of a prompt's "created" entry: derived, so a retried create never logs twice, and search finds it.</summary>
    public static Guid CreatedId(Guid promptId) => ClientIds.NameBased("prompt-created/" + promptId.ToString("D"));

    public static TimelineEntry Created(Pb.Prompt prompt, Guid machineId, DateTimeOffset at) =>
        new(machineId, Guid.Parse(prompt.SessionId), TimelineKinds.PromptCreated, CreatedId(Guid.Parse(prompt.PromptId)), at, ProtoJson.Format(prompt));

    public static TimelineEntry Updated(Pb.Prompt prompt, Guid machineId, DateTimeOffset at) =>
        new(machineId, Guid.Parse(prompt.SessionId), TimelineKinds.PromptUpdated, Guid.NewGuid(), at, ProtoJson.Format(prompt));
}
