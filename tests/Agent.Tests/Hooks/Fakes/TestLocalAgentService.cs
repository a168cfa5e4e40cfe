using Relay.Agent.Hooks;
using Relay.Agent.Hosting;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Hooks.Fakes;

/// <summary>
/// Stands in for the local side's LocalAgentService until it is merged: Hook delegates to <see cref="IHookProcessor"/>
/// exactly as the real one does; it also records the peer credentials the Unix socket check attached.
/// </summary>
internal sealed class TestLocalAgentService(IHookProcessor processor, TestLocalAgentState state) : LocalAgent.LocalAgentBase
{
    public override async Task<HookResponse> Hook(HookRequest request, ServerCallContext context)
    {
        state.LastPeer = context.GetHttpContext().Features.Get<IPeerCredentialsFeature>()?.Peer;
        if (state.Stall is { } stall)
        {
            await stall.Task.WaitAsync(context.CancellationToken);
        }

        return await processor.ProcessCommandHookAsync(request, context.CancellationToken);
    }
}

/// <summary>Per-agent state of <see cref="TestLocalAgentService"/>.</summary>
internal sealed class TestLocalAgentState
{
    public PeerCredentials? LastPeer { get; set; }

    /// <summary>When set, Hook waits for it before answering (an agent that is up but stuck).</summary>
    public TaskCompletionSource? Stall { get; set; }
}
