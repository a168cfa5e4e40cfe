using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Npgsql;
using Relay.Broker.Persistence.Entities;
using Prompt = Relay.Broker.Persistence.Entities.Prompt;

namespace Relay.Broker.AgentLink;

/// <summary>
/// What one stream's last batch left in the database, as far as this broker knows it: the machine's committed inbound
/// position, and the sessions and prompts the batch wrote (or read and checked), each with its row version (xmin), or
/// the commit that will give it one when that commit has not returned yet. The stream's next batch may be stored from it
/// in a single round trip (InboundProcessor.FromMemory.cs), which checks every part of it under the locks before it
/// commits, and may be sent while the batch before it still commits (InboundProcessor.Pipeline.cs).
/// </summary>
/// <remarks>
/// <para>A hint, never a source of truth: a copy that is out of date only makes that round trip fail, and the batch is
/// stored as before. Each attempt takes the whole memory (<see cref="Recall"/>), so copies a failed attempt changed are
/// never offered again; copies come back only from a batch about to commit (<see cref="Anticipate"/>, taken back by
/// <see cref="Drop"/> if it does not), a batch that committed (<see cref="Remember"/>), or SendPrompt, for the prompt it
/// just sent on the stream (<see cref="Offer"/>), whose receipt comes next.</para>
/// <para>A copy is as its batch's context left it, so it must be the whole of what the transaction wrote to its row:
/// sessions and prompts are written by the inbound path through the context alone (no raw UPDATE of those tables).</para>
/// </remarks>
internal sealed class StreamMemory
{
    /// <summary>Most copies kept: a batch names a few sessions and prompts; one that names more is not worth keeping.</summary>
    internal const int Capacity = 64;

    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> TimeProperties = new();

    // The stream's batches run one after another; SendPrompt offers from its own request.
    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, Known<RelaySession>> _sessions = [];
    private readonly Dictionary<Guid, Known<Prompt>> _prompts = [];
    private long? _committedSeq;
    private PendingCommit? _anticipated;

    /// <summary>
    /// Reads the transaction's id: the row version (xmin) of every row it writes, when it has no savepoint (a
    /// subtransaction's rows have the savepoint's id). Its result is one row of one <c>xid</c> (read as uint).
    /// </summary>
    public static NpgsqlBatchCommand TransactionIdCommand() => new("SELECT pg_current_xact_id()::xid");

    /// <summary>
    /// Takes everything remembered. Returns it when it has the committed position and every session and prompt in
    /// <paramref name="sessions"/> and <paramref name="prompts"/>; otherwise null. Either way the memory is empty after.
    /// </summary>
    public Recalled? Recall(IReadOnlyCollection<Guid> sessions, IReadOnlyCollection<Guid> prompts)
    {
        lock (_lock)
        {
            return RecallLocked(sessions, prompts);
        }
    }

    private Recalled? RecallLocked(IReadOnlyCollection<Guid> sessions, IReadOnlyCollection<Guid> prompts)
    {
        try
        {
            if (_committedSeq is not { } committed
                || sessions.Any(id => !_sessions.ContainsKey(id))
                || prompts.Any(id => !_prompts.ContainsKey(id))
                || _sessions.Values.Any(static k => k.WrittenBy is { Failed: true })
                || _prompts.Values.Any(static k => k.WrittenBy is { Failed: true }))
            {
                return null;
            }

            // A prompt's copy also needs its session (a receipt checks it); one not remembered is looked up, which fails
            // the attempt before anything was sent.
            return new Recalled(committed, [.. _sessions.Values], [.. _prompts.Values]);
        }
        finally
        {
            ForgetLocked();
        }
    }

    /// <summary>
    /// A prompt committed on this stream's behalf (SendPrompt's, just numbered for the stream), its row version in
    /// <see cref="Prompt.Version"/>: its receipt may be stored from memory. <paramref name="prompt"/> must be a copy
    /// nobody else holds.
    /// </summary>
    public void Offer(Prompt prompt)
    {
        lock (_lock)
        {
            if (_sessions.Count + _prompts.Count < Capacity)
            {
                AsStored(prompt);
                _prompts[prompt.Id] = new Known<Prompt>(prompt, prompt.Version);
            }
        }
    }

    /// <summary>
    /// After a commit: <paramref name="committedSeq"/> is the machine's position, and the sessions and prompts the
    /// batch's context tracked are as it left them. Those it wrote have <paramref name="xid"/> (the transaction's id) as
    /// their row version; those it only read keep the version they were read or checked with, when it is known.
    /// </summary>
    /// <remarks>Added to what was offered since the batch recalled the memory (which emptied it).</remarks>
    public void Remember(long committedSeq, uint xid, IEnumerable<Tracked> tracked, IReadOnlyDictionary<Guid, uint> readVersions)
    {
        lock (_lock)
        {
            RememberLocked(committedSeq, xid, tracked, readVersions);
            _anticipated = null;
        }
    }

    private void RememberLocked(long committedSeq, uint xid, IEnumerable<Tracked> tracked, IReadOnlyDictionary<Guid, uint> readVersions)
    {
        foreach (var entry in tracked)
        {
            AsStored(entry.Entity);
            switch (entry.Entity)
            {
                case RelaySession session when entry.Written:
                    _sessions[session.Id] = new Known<RelaySession>(session, xid);
                    break;
                case RelaySession session when readVersions.TryGetValue(session.Id, out var version):
                    _sessions[session.Id] = new Known<RelaySession>(session, version);
                    break;
                case Prompt prompt when Settled(prompt):
                    break;
                case Prompt prompt:
                    if (entry.Written)
                    {
                        prompt.Version = xid; // not read back from the round trip that wrote it
                    }

                    _prompts[prompt.Id] = new Known<Prompt>(prompt, prompt.Version);
                    break;
            }
        }

        if (_sessions.Count + _prompts.Count > Capacity)
        {
            ForgetLocked();
            return;
        }

        _committedSeq = committedSeq;
    }

    /// <summary>
    /// Before a batch's round trip is sent: <paramref name="committedSeq"/> will be the machine's position, and
    /// <paramref name="tracked"/> (copies of the batch's entities, which nobody else holds) as the batch leaves them. Those
    /// it writes will have the row version of <paramref name="commit"/>, known once it committed; those it only read keep
    /// the version they were recalled with (<paramref name="recalled"/>). So the stream's next batch can be prepared
    /// while this one commits, and checked against the commit once it has the lock (InboundProcessor.Pipeline.cs).
    /// </summary>
    /// <remarks>Added to what was offered since the batch recalled the memory (which emptied it); <see cref="Drop"/> takes
    /// it back if the commit fails.</remarks>
    public void Anticipate(long committedSeq, PendingCommit commit, IEnumerable<Tracked> tracked, Recalled recalled)
    {
        lock (_lock)
        {
            var known = new Dictionary<Guid, (uint Version, PendingCommit? WrittenBy)>();
            foreach (var session in recalled.Sessions)
            {
                known[session.Entity.Id] = (session.Version, session.WrittenBy);
            }

            foreach (var prompt in recalled.Prompts)
            {
                known[prompt.Entity.Id] = (prompt.Version, prompt.WrittenBy);
            }

            foreach (var entry in tracked)
            {
                AsStored(entry.Entity);
                switch (entry.Entity)
                {
                    case RelaySession session when entry.Written:
                        _sessions[session.Id] = new Known<RelaySession>(session, 0, commit);
                        break;
                    case RelaySession session when known.TryGetValue(session.Id, out var was):
                        _sessions[session.Id] = new Known<RelaySession>(session, was.Version, was.WrittenBy);
                        break;
                    case Prompt prompt when Settled(prompt):
                        break;
                    case Prompt prompt when entry.Written:
                        _prompts[prompt.Id] = new Known<Prompt>(prompt, 0, commit);
                        break;
                    case Prompt prompt:
                        _prompts[prompt.Id] = known.TryGetValue(prompt.Id, out var read)
                            ? new Known<Prompt>(prompt, read.Version, read.WrittenBy)
                            : new Known<Prompt>(prompt, prompt.Version);
                        break;
                }
            }

            if (_sessions.Count + _prompts.Count > Capacity)
            {
                ForgetLocked();
                return;
            }

            _committedSeq = committedSeq;
            _anticipated = commit;
        }
    }

    /// <summary>The commit <see cref="Anticipate"/> was told of failed: what it anticipated is dropped, unless a later batch took it.</summary>
    public void Drop(PendingCommit commit)
    {
        commit.Fail();
        lock (_lock)
        {
            if (ReferenceEquals(_anticipated, commit))
            {
                ForgetLocked();
            }
        }
    }

    /// <summary>Drops everything: the next batch looks up what it needs.</summary>
    public void Forget()
    {
        lock (_lock)
        {
            ForgetLocked();
        }
    }

    private void ForgetLocked()
    {
        _sessions.Clear();
        _prompts.Clear();
        _committedSeq = null;
        _anticipated = null;
    }

    /// <summary>
    /// The sessions and prompts a batch's context tracks, and whether the batch writes them, as its last round trip
    /// will leave them: read before the changes are accepted (after which every entry looks unchanged).
    /// </summary>
    /// <remarks>
    /// With <paramref name="copies"/>, each entity is copied as the batch leaves it: the batch's context keeps its own
    /// until its round trip returned, while the copies may already serve the stream's next batch (Anticipate).
    /// </remarks>
    public static List<Tracked> TrackedBy(DbContext db, bool copies = false)
    {
        var tracked = new List<Tracked>();
        foreach (var entry in db.ChangeTracker.Entries())
        {
            if (entry.Entity is RelaySession or Prompt && entry.State is not (EntityState.Deleted or EntityState.Detached))
            {
                tracked.Add(new Tracked(copies ? entry.CurrentValues.ToObject() : entry.Entity, Written(entry)));
            }
        }

        return tracked;
    }

    /// <summary>
    /// Cuts the copy's times to the microsecond, as PostgreSQL keeps them (and Npgsql cuts them): the next batch's event
    /// payloads must show a time as a batch that read the row would (a receipt's time comes from the agent in
    /// nanoseconds; the broker's clock has 100 ns ticks).
    /// </summary>
    private static void AsStored(object entity)
    {
        foreach (var property in TimeProperties.GetOrAdd(entity.GetType(), static type =>
            [.. type.GetProperties().Where(p => p.CanWrite && (p.PropertyType == typeof(DateTimeOffset) || p.PropertyType == typeof(DateTimeOffset?)))]))
        {
            if (property.GetValue(entity) is DateTimeOffset time)
            {
                property.SetValue(entity, Access.StoredTime.ForStorage(time).ToUniversalTime());
            }
        }
    }

    private static bool Written(EntityEntry entry) => entry.State is EntityState.Added or EntityState.Modified;

    /// <summary>
    /// A prompt answered or given up is not kept: the stream's next batches rarely name it again (one that does looks it
    /// up), and every copy kept is attached, checked and copied again by each batch that recalls the memory. Kept, they
    /// filled it (a batch sampled at 100 prompts a second recalled 43) until it overflowed and was dropped whole.
    /// </summary>
    private static bool Settled(Prompt prompt) => prompt.Status is PromptStatus.Replied or PromptStatus.Expired or PromptStatus.Failed;

    /// <summary>An entity of a batch's context, and whether the batch's last round trip writes it.</summary>
    internal readonly record struct Tracked(object Entity, bool Written);

    /// <summary>
    /// A copy and the row version (xmin) it had when it was committed or checked; when <paramref name="WrittenBy"/> is
    /// set, the version is that commit's transaction id, which is known only once it committed.
    /// </summary>
    internal readonly record struct Known<T>(T Entity, uint Version, PendingCommit? WrittenBy = null)
    {
        /// <summary>The copy's row version; false while the commit that writes it has not returned.</summary>
        public bool TryResolve(out uint version)
        {
            if (WrittenBy is not { } commit)
            {
                version = Version;
                return true;
            }

            return commit.TryGetXid(out version);
        }
    }

    /// <summary>What <see cref="Recall"/> handed to one attempt.</summary>
    internal sealed record Recalled(long CommittedSeq, IReadOnlyList<Known<RelaySession>> Sessions, IReadOnlyList<Known<Prompt>> Prompts);
}

/// <summary>
/// A batch's transaction whose round trip has been sent: its id, the row version of what it writes, once it committed.
/// Set by the commit loop, read by it and by the stream's next batch, which it prepares meanwhile.
/// </summary>
/// <remarks>
/// Until then, its <paramref name="witness"/> stands for it: an event row it inserts (machine id, agent event id), whose
/// xmin is its id once committed (event rows are never updated). Null when it inserts none.
/// </remarks>
internal sealed class PendingCommit((Guid MachineId, Guid AgentEventId)? witness)
{
    /// <summary>An event row the transaction inserts; null when it inserts none.</summary>
    public (Guid MachineId, Guid AgentEventId)? Witness { get; } = witness;

    private const int Pending = 0, Done = 1, Refused = 2;

    private uint _xid;
    private int _state;

    /// <summary>It did not commit: its copies must not be used.</summary>
    public bool Failed => Volatile.Read(ref _state) == Refused;

    public void Commit(uint xid)
    {
        _xid = xid;
        Volatile.Write(ref _state, Done);
    }

    public void Fail() => Volatile.Write(ref _state, Refused);

    public bool TryGetXid(out uint xid)
    {
        var done = Volatile.Read(ref _state) == Done;
        xid = done ? _xid : 0;
        return done;
    }
}
