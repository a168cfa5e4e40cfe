using Microsoft.AspNetCore.Builder;

namespace Relay.Grpc;

/// <summary>Applies conventions to the endpoints of every method of a mapped service.</summary>
internal sealed class CompositeConventionBuilder(IReadOnlyList<IEndpointConventionBuilder> builders) : IEndpointConventionBuilder
{
    public void Add(Action<EndpointBuilder> convention)
    {
        foreach (var builder in builders)
        {
            builder.Add(convention);
        }
    }
}
