using Relay.Broker.Access;
using Relay.Broker.Machines;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Admin;

// Machines and enrolment.
internal sealed partial class AdminService
{
    public override Task<ListMachinesResponse> ListMachines(ListMachinesRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<MachineDirectory>().ListAsync(request, context.CancellationToken);
    }

    public override Task<GetMachineResponse> GetMachine(GetMachineRequest request, ServerCallContext context)
    {
        context.RequireRole(Role.Viewer);
        return Get<MachineDirectory>().GetAsync(request.Machine, context.CancellationToken);
    }

    public override Task<CreateEnrollmentResponse> CreateEnrollment(CreateEnrollmentRequest request, ServerCallContext context) =>
        Get<EnrollmentService>().CreateAsync(context.RequireRole(Role.Admin), request, context.CancellationToken);

    public override Task<Machine> RevokeMachine(RevokeMachineRequest request, ServerCallContext context) =>
        Get<MachineDirectory>().RevokeAsync(context.RequireRole(Role.Admin), request, context.CancellationToken);
}
