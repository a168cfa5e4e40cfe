using Relay.Broker.Access;
using Relay.Broker.Queries.Selectors;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Launches;

/// <summary>A validated LaunchSession request.</summary>
internal sealed record LaunchPlan(Guid Id, MachineRef Machine, string Cwd, string? Name, string? Prompt, List<string> ClaudeArgs, TimeSpan Expiry);

/// <summary>The rows one launch creates: the reserved session, the launch, and its initial prompt.</summary>
internal sealed record LaunchRows(Db.RelaySession Session, Db.Launch Launch, Db.Prompt? Prompt, Pb.Principal RequestedBy)
{
    public static LaunchRows Create(LaunchPlan plan, Caller caller, string key, DateTimeOffset now, TimeSpan promptTtl)
    {
        var session = new Db.RelaySession
        {
            Id = LaunchIds.Session(plan.Id),
            MachineId = plan.Machine.Id,
            Name = plan.Name,
            Cwd = plan.Cwd,
            LaunchId = plan.Id,
            Status = Db.SessionStatus.Starting,
            CreatedAt = now,
            UpdatedAt = now,
            LastActivityAt = now,
        };
        var prompt = plan.Prompt is null ? null : new Db.Prompt
        {
            Id = LaunchIds.InitialPrompt(plan.Id),
            IdempotencyKey = "launch:" + plan.Id.ToString("D"), // the client key may already use the column's 128 characters
            RelaySessionId = session.Id,
            // A session launching through its launch_session tool sends the first prompt itself (a session message).
            SenderKind = caller.Kind == Pb.PrincipalKind.Session ? Db.SenderKind.Session : Db.SenderKind.Person,
            SenderId = caller.Id,
            SenderName = caller.DisplayName,
            Text = plan.Prompt,
            Status = Db.PromptStatus.Queued,
            CreatedAt = now,
            // The initial prompt waits at least as long as the launch may.
            ExpiresAt = now + (promptTtl > plan.Expiry ? promptTtl : plan.Expiry),
        };
        var launch = new Db.Launch
        {
            Id = plan.Id,
            MachineId = plan.Machine.Id,
            Cwd = plan.Cwd,
            Name = plan.Name,
            Prompt = plan.Prompt,
            Status = Db.LaunchStatus.Requested,
            RequestedBy = caller.AuditActor,
            RelaySessionId = session.Id,
            CreatedAt = now,
            ExpiresAt = now + plan.Expiry,
            ClaudeArgs = plan.ClaudeArgs,
            InitialPromptId = prompt?.Id,
        };
        return new LaunchRows(session, launch, prompt, caller.ToPrincipal());
    }
}
