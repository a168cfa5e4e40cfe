using Microsoft.Extensions.Options;
using Relay.Broker.Access;
using Relay.Broker.Queries;
using Relay.Broker.Validation;
using Pb = Relay.Protocol.V1;

namespace Relay.Broker.Prompts;

/// <summary>GetPrompt: one prompt with its replies, optionally after waiting like SendPrompt.</summary>
internal sealed class PromptQuery(PromptWaiter waiter, IOptions<PromptOptions> options)
{
    public async Task<Pb.GetPromptResponse> GetAsync(Caller caller, Pb.GetPromptRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.PromptId))
        {
            throw AdminErrors.InvalidArgument("prompt_id", "is required (the prompt_id SendPrompt returned, or the one you sent it with).");
        }

        Require.OptionalClientId(request.PromptId, "prompt_id");
        var wanted = PromptStatuses.ValidateWait(request.WaitUntil, "wait_until");
        var timeout = RequestValidation.Duration(request.WaitTimeout, "wait_timeout", options.Value.MaxWaitTimeout, allowZero: true) ?? options.Value.DefaultWaitTimeout;

        // The broker's id is a UUID; a non-UUID client key names the caller's own prompt (see ClientIds).
        var id = ClientIds.ToGuid("prompt/" + caller.AuditActor, request.PromptId);
        var state = wanted == Pb.PromptStatus.Unspecified
            ? await waiter.GetStateAsync(id, cancellationToken)
            : await waiter.WaitAsync(id, wanted, timeout, cancellationToken);
        var response = new Pb.GetPromptResponse { Prompt = state.Prompt, WaitTimedOut = state.TimedOut };
        response.Replies.AddRange(state.Replies);
        return response;
    }
}
