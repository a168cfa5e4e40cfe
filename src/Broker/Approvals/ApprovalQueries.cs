using Microsoft.Extensions.Options;
using Npgsql;
using Relay.Broker.Queries;
using Relay.Broker.Queries.Selectors;
using Relay.Broker.Validation;
using Pb = Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Approvals;

/// <summary>ListApprovals (pending by default, oldest request first, keyset-paged) and GetApproval.</summary>
internal sealed class ApprovalQueries(
    NpgsqlDataSource dataSource,
    ApprovalReader reader,
    SessionSelectorResolver sessions,
    MachineResolver machines,
    IOptions<QueriesOptions> options)
{
    public async Task<Pb.ListApprovalsResponse> ListAsync(Pb.ListApprovalsRequest request, CancellationToken cancellationToken)
    {
        var pageSize = RequestValidation.PageSize(request.PageSize, options.Value.DefaultPageSize, options.Value.MaxPageSize);
        var statuses = request.Statuses.Count == 0
            ? [Db.ApprovalStatus.Pending]
            : request.Statuses.Select((s, i) => ApprovalMapper.FromProto(s)
                ?? throw AdminErrors.InvalidArgument($"statuses[{i}]", $"{s} is not an approval status.")).Distinct().ToList();
        var session = request.Session is null ? null : await sessions.ResolveAsync(request.Session, "session", cancellationToken);
        var machine = string.IsNullOrEmpty(request.Machine) ? null : await machines.ResolveAsync(request.Machine, "machine", cancellationToken);

        var fingerprint = PageTokens.Fingerprint(statuses.Order(), session?.Id, machine?.Id);
        var after = PageTokens.Decode<Position>(request.PageToken, fingerprint, p => p.F);

        var sql = new SqlBuilder("SELECT a.id FROM approvals a JOIN sessions s ON s.id = a.relay_session_id WHERE ");
        sql.Append($"a.status = ANY({sql.Param(statuses.Select(EnumText<Db.ApprovalStatus>.ToText).ToArray())})");
        if (session is not null)
        {
            sql.Append($" AND a.relay_session_id = {sql.Param(session.Id)}");
        }

        if (machine is not null)
        {
            sql.Append($" AND s.machine_id = {sql.Param(machine.Id)}");
        }

        if (after is not null)
        {
            sql.Append($" AND (a.created_at, a.id) > ({sql.Param(after.T)}, {sql.Param(after.I)})");
        }

        sql.Append($" ORDER BY a.created_at, a.id LIMIT {sql.Param(pageSize + 1)}");
        var ids = new List<Guid>();
        await using (var command = sql.CreateCommand(dataSource))
        await using (var rows = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await rows.ReadAsync(cancellationToken))
            {
                ids.Add(rows.GetGuid(0));
            }
        }

        var page = ids.Take(pageSize).ToList();
        var approvals = await reader.GetManyAsync(page, cancellationToken);
        var response = new Pb.ListApprovalsResponse();
        response.Approvals.AddRange(page.Where(approvals.ContainsKey).Select(id => approvals[id]));
        if (ids.Count > pageSize && response.Approvals.Count > 0)
        {
            var last = response.Approvals[^1];
            response.NextPageToken = PageTokens.Encode(new Position(last.RequestedAt.ToDateTimeOffset(), Guid.Parse(last.ApprovalId), fingerprint));
        }

        return response;
    }

    public async Task<Pb.Approval> GetAsync(Pb.GetApprovalRequest request, CancellationToken cancellationToken)
    {
        var id = Require.Id(request.ApprovalId, "approval_id", "the approval_id from ListApprovals");
        return (await reader.GetManyAsync([id], cancellationToken)).GetValueOrDefault(id)
            ?? throw AdminErrors.NotFound($"no approval has the id {id:D}.");
    }

    private sealed record Position(DateTimeOffset T, Guid I, string F);
}
