using Relay.Broker.Validation;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Broker.Access;

/// <summary>
/// How handlers read the caller the <see cref="AccessInterceptor"/> authenticated. Every Admin call has a user caller
/// whose role already satisfies the method's minimum (see <see cref="AccessRules"/>); AgentLink.Connect has a machine
/// caller; AgentLink.Enroll, health and reflection have none.
/// </summary>
internal static class CallerContextExtensions
{
    private static readonly object Key = typeof(Caller);

    /// <summary>The authenticated caller; UNAUTHENTICATED when the call carried none (Enroll, or a missing interceptor).</summary>
    public static Caller GetCaller(this ServerCallContext context) =>
        context.TryGetCaller() ?? throw RpcErrors.Unauthenticated("This call needs a credential: pass 'authorization: Bearer <token>' metadata.");

    /// <summary>The authenticated caller, or null.</summary>
    public static Caller? TryGetCaller(this ServerCallContext context) =>
        context.UserState.TryGetValue(Key, out var value) ? value as Caller : null;

    /// <summary>
    /// The caller, when it is a user with at least <paramref name="minimum"/>; PERMISSION_DENIED naming the needed role
    /// otherwise. Methods whose minimum is in <see cref="AccessRules"/> are checked before they run; call this for
    /// stricter checks inside a method.
    /// </summary>
    public static Caller RequireRole(this ServerCallContext context, Role minimum)
    {
        var caller = context.GetCaller();
        if (!caller.HasRole(minimum))
        {
            throw RpcErrors.PermissionDenied(DeniedMessage(context.Method, caller, minimum));
        }

        return caller;
    }

    /// <summary>The caller, when it is a machine's agent; PERMISSION_DENIED otherwise.</summary>
    public static Caller RequireMachine(this ServerCallContext context)
    {
        var caller = context.GetCaller();
        if (caller.Kind != PrincipalKind.Machine)
        {
            throw RpcErrors.PermissionDenied("This call is for relay-agent with its machine credential.");
        }

        return caller;
    }

    internal static void SetCaller(this ServerCallContext context, Caller caller) => context.UserState[Key] = caller;

    internal static string DeniedMessage(string method, Caller caller, Role minimum) =>
        caller.Kind == PrincipalKind.User
            ? $"{method.TrimStart('/')} needs role {minimum.Name()}; token '{caller.DisplayName}' has role {caller.Role.Name()}. " +
              $"Ask an admin for a token with role {minimum.Name()} (relayctl tokens create --role {minimum.Name()})."
            : $"{method.TrimStart('/')} needs a personal token with role {minimum.Name()}.";
}
