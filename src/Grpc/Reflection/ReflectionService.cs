using Grpc.Reflection.V1;
using Relay.Grpc.Server.Internal;

namespace Relay.Grpc.Reflection;

/// <summary>
/// Server reflection, <c>grpc.reflection.v1</c> and <c>v1alpha</c>, so stock tools (grpcurl, grpc_cli)
/// can list and call the server's services. The two packages' messages are identical on the wire,
/// so one implementation over the v1 types serves both paths.
/// </summary>
internal sealed class ReflectionService(GrpcServiceRegistry registry)
{
    public const string V1ServiceName = "grpc.reflection.v1.ServerReflection";
    public const string V1AlphaServiceName = "grpc.reflection.v1alpha.ServerReflection";

    private DescriptorIndex? _index;

    public static void BindV1(ServiceBinder<ReflectionService> binder) => Bind(binder, V1ServiceName, ReflectionReflection.Descriptor.Services[0]);

    public static void BindV1Alpha(ServiceBinder<ReflectionService> binder) =>
        Bind(binder, V1AlphaServiceName, global::Grpc.Reflection.V1Alpha.ReflectionReflection.Descriptor.Services[0]);

    private static void Bind(ServiceBinder<ReflectionService> binder, string serviceName, Google.Protobuf.Reflection.ServiceDescriptor descriptor)
    {
        binder.ServiceDescriptor = descriptor;
        binder.AddDuplexStreamingMethod(
            new Method<ServerReflectionRequest, ServerReflectionResponse>(
                MethodType.DuplexStreaming, serviceName, "ServerReflectionInfo",
                Marshallers.Protobuf(ServerReflectionRequest.Parser), Marshallers.Protobuf(ServerReflectionResponse.Parser)),
            static (service, requests, responses, context) => service.ServeAsync(requests, responses, context));
    }

    private async Task ServeAsync(IAsyncStreamReader<ServerReflectionRequest> requests, IServerStreamWriter<ServerReflectionResponse> responses, ServerCallContext context)
    {
        // Mapping happens at start-up, before any call; the first call freezes the index.
        var index = _index ??= new DescriptorIndex(registry.Descriptors);
        while (await requests.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            await responses.WriteAsync(Answer(index, requests.Current), context.CancellationToken).ConfigureAwait(false);
        }
    }

    private ServerReflectionResponse Answer(DescriptorIndex index, ServerReflectionRequest request)
    {
        var response = new ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        switch (request.MessageRequestCase)
        {
            case ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                var list = new ListServiceResponse();
                foreach (var name in registry.ServiceNames)
                {
                    list.Service.Add(new ServiceResponse { Name = name });
                }

                response.ListServicesResponse = list;
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                SetFile(response, index.FindFile(request.FileByFilename), $"File '{request.FileByFilename}' not found.");
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                SetFile(response, index.FindSymbol(request.FileContainingSymbol), $"Symbol '{request.FileContainingSymbol}' not found.");
                break;
            case ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
            case ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                response.ErrorResponse = new ErrorResponse { ErrorCode = (int)StatusCode.Unimplemented, ErrorMessage = "Extensions are not supported." };
                break;
            default:
                response.ErrorResponse = new ErrorResponse { ErrorCode = (int)StatusCode.InvalidArgument, ErrorMessage = "The request names no query." };
                break;
        }

        return response;
    }

    private static void SetFile(ServerReflectionResponse response, Google.Protobuf.Reflection.FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            response.ErrorResponse = new ErrorResponse { ErrorCode = (int)StatusCode.NotFound, ErrorMessage = notFound };
            return;
        }

        var files = new FileDescriptorResponse();
        files.FileDescriptorProto.AddRange(DescriptorIndex.WithDependencies(file));
        response.FileDescriptorResponse = files;
    }
}
