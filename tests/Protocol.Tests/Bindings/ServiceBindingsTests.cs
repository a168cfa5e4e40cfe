using System.Reflection;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Protocol.Tests.Bindings;

/// <summary>The generated bindings agree with the descriptors, whatever the generator's text looks like.</summary>
public sealed class ServiceBindingsTests
{
    [Theory]
    [MemberData(nameof(ProtocolContract.ServiceNames), MemberType = typeof(ProtocolContract))]
    public void Methods_EveryRpc_HasMethodWithMatchingTypeNameAndPath(string serviceName)
    {
        var service = ProtocolContract.Service(serviceName);
        var bindings = BindingsClass(service);

        bindings.GetField("ServiceName")!.GetRawConstantValue().Should().Be(service.FullName);
        bindings.GetProperty("Descriptor")!.GetValue(null).Should().BeSameAs(service);
        bindings.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType.IsGenericType && f.FieldType.GetGenericTypeDefinition() == typeof(Method<,>))
            .Select(f => f.Name)
            .Should().BeEquivalentTo(service.Methods.Select(m => m.Name + "Method"), "there is one Method field per rpc and no other");
        foreach (var rpc in service.Methods)
        {
            var field = bindings.GetField(rpc.Name + "Method")!;
            field.FieldType.Should().Be(typeof(Method<,>).MakeGenericType(rpc.InputType.ClrType, rpc.OutputType.ClrType), rpc.FullName);
            var method = field.GetValue(null)!;
            object? Property(string name) => field.FieldType.GetProperty(name)!.GetValue(method);
            Property(nameof(Method<object, object>.Type)).Should().Be(ExpectedType(rpc), rpc.FullName);
            Property(nameof(Method<object, object>.ServiceName)).Should().Be(service.FullName);
            Property(nameof(Method<object, object>.Name)).Should().Be(rpc.Name);
            Property(nameof(Method<object, object>.FullName)).Should().Be($"/{service.FullName}/{rpc.Name}");
        }
    }

    [Theory]
    [MemberData(nameof(ProtocolContract.ServiceNames), MemberType = typeof(ProtocolContract))]
    public async Task MapGrpcService_EveryService_MapsEveryRpcThroughBindService(string serviceName)
    {
        var service = ProtocolContract.Service(serviceName);
        await using var app = CreateApp();

        Map(app, serviceName);

        var paths = ((IEndpointRouteBuilder)app).DataSources
            .SelectMany(source => source.Endpoints)
            .OfType<RouteEndpoint>()
            .Select(endpoint => endpoint.RoutePattern.RawText)
            .Where(path => path is not null && path.StartsWith($"/{service.FullName}/", StringComparison.Ordinal));
        paths.Should().BeEquivalentTo(service.Methods.Select(m => $"/{service.FullName}/{m.Name}"));
    }

    [Theory]
    [MemberData(nameof(ProtocolContract.ServiceNames), MemberType = typeof(ProtocolContract))]
    public async Task BindService_EveryService_SetsTheServiceDescriptor(string serviceName)
    {
        var service = ProtocolContract.Service(serviceName);
        await using var app = CreateApp();
        ServiceDescriptor? bound = null;

        switch (serviceName)
        {
            case Admin.ServiceName:
                app.MapGrpcService<BareAdmin>(binder => { Admin.BindService(binder); bound = binder.ServiceDescriptor; });
                break;
            case AgentLink.ServiceName:
                app.MapGrpcService<BareAgentLink>(binder => { AgentLink.BindService(binder); bound = binder.ServiceDescriptor; });
                break;
            case LocalAgent.ServiceName:
                app.MapGrpcService<BareLocalAgent>(binder => { LocalAgent.BindService(binder); bound = binder.ServiceDescriptor; });
                break;
            default:
                throw new InvalidOperationException($"No test implementation of {serviceName}; add one to {nameof(ServiceBindingsTests)}.");
        }

        bound.Should().BeSameAs(service);
    }

    private static Type BindingsClass(ServiceDescriptor service) =>
        typeof(CommonReflection).Assembly.GetType($"{typeof(CommonReflection).Namespace}.{service.Name}")
        ?? throw new InvalidOperationException($"No bindings class for {service.FullName}.");

    private static MethodType ExpectedType(MethodDescriptor rpc) => (rpc.IsClientStreaming, rpc.IsServerStreaming) switch
    {
        (false, false) => MethodType.Unary,
        (false, true) => MethodType.ServerStreaming,
        (true, false) => MethodType.ClientStreaming,
        (true, true) => MethodType.DuplexStreaming,
    };

    private static WebApplication CreateApp()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddGrpcServer();
        return builder.Build();
    }

    /// <summary>Maps a bare implementation of the service the way the broker and agent do: through the
    /// <see cref="BindServiceMethodAttribute"/> of its generated base class.</summary>
    private static void Map(WebApplication app, string serviceName)
    {
        _ = serviceName switch
        {
            Admin.ServiceName => app.MapGrpcService<BareAdmin>(),
            AgentLink.ServiceName => app.MapGrpcService<BareAgentLink>(),
            LocalAgent.ServiceName => app.MapGrpcService<BareLocalAgent>(),
            _ => throw new InvalidOperationException($"No test implementation of {serviceName}; add one to {nameof(ServiceBindingsTests)}."),
        };
    }

    private sealed class BareAdmin : Admin.AdminBase;

    private sealed class BareAgentLink : AgentLink.AgentLinkBase;

    private sealed class BareLocalAgent : LocalAgent.LocalAgentBase;
}
