using Relay.Agent.Hooks;
using Relay.Protocol.V1;

namespace Relay.Agent.Tests.Local.Fakes;

/// <summary>Records the command hooks LocalAgent.Hook delegates and answers with a fixed output.</summary>
internal sealed class FakeHookProcessor : IHookProcessor
{
    public List<HookRequest> Requests { get; } = [];

    public string Output { get; set; } = "{\"hookSpecificOutput\":{\"hookEventName\":\"SessionStart\",\"additionalContext\":\"from the fake\"}}";

    public ValueTask<HookResponse> ProcessCommandHookAsync(HookRequest request, CancellationToken cancellationToken)
    {
        lock (Requests)
        {
            Requests.Add(request);
        }

        return ValueTask.FromResult(new HookResponse { OutputJson = Output });
    }
}
