using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Bench.Agents;

/// <summary>A machine enrolled through the public API: what a relay-agent stores after `relay-agent enroll`.</summary>
internal sealed record EnrolledMachine(Guid Id, string Name, string Credential);

/// <summary>Enrols machines as an operator and their agents would: Admin.CreateEnrollment, then AgentLink.Enroll.</summary>
internal static class Enrolment
{
    private const int Concurrency = 16;

    public static async Task<IReadOnlyList<EnrolledMachine>> EnrollAsync(string address, string adminToken, string prefix, int count, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(address);
        var admin = new Admin.AdminClient(channel);
        var link = new Protocol.V1.AgentLink.AgentLinkClient(channel);
        var headers = new Metadata { { "authorization", "Bearer " + adminToken } };
        var machines = new EnrolledMachine[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken }, async (i, token) =>
        {
            var name = $"{prefix}-{i:D5}";
            var enrolment = await admin.CreateEnrollmentAsync(new CreateEnrollmentRequest { MachineName = name, Note = "relay-bench" }, headers, cancellationToken: token);
            var enrolled = await link.EnrollAsync(new EnrollRequest
            {
                EnrollmentToken = enrolment.Token,
                RequestId = Guid.NewGuid().ToString("D"),
                MachineName = name,
                Hostname = name,
                Os = "linux-x64",
                AgentVersion = "relay-bench",
            }, cancellationToken: token);
            machines[i] = new EnrolledMachine(Guid.Parse(enrolled.MachineId), enrolled.MachineName, enrolled.Credential);
        });
        return machines;
    }
}
