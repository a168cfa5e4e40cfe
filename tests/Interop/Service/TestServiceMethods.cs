using Grpc.Testing;
using Relay.Grpc;

namespace Relay.Interop.Tests.Service;

/// <summary>
/// Hand-written method descriptions for <c>grpc.testing.TestService</c> (and the deliberately unserved
/// <c>grpc.testing.UnimplementedService</c>), shared by the C# server and client. Grpc.Tools generates
/// only messages here (GrpcServices="None"), because its service stubs need Grpc.Core.Api.
/// </summary>
internal static class TestServiceMethods
{
    public const string ServiceName = "grpc.testing.TestService";
    public const string UnimplementedServiceName = "grpc.testing.UnimplementedService";

    private static readonly Marshaller<Empty> s_empty = Marshallers.Protobuf(Empty.Parser);
    private static readonly Marshaller<SimpleRequest> s_simpleRequest = Marshallers.Protobuf(SimpleRequest.Parser);
    private static readonly Marshaller<SimpleResponse> s_simpleResponse = Marshallers.Protobuf(SimpleResponse.Parser);
    private static readonly Marshaller<StreamingInputCallRequest> s_inputRequest = Marshallers.Protobuf(StreamingInputCallRequest.Parser);
    private static readonly Marshaller<StreamingInputCallResponse> s_inputResponse = Marshallers.Protobuf(StreamingInputCallResponse.Parser);
    private static readonly Marshaller<StreamingOutputCallRequest> s_outputRequest = Marshallers.Protobuf(StreamingOutputCallRequest.Parser);
    private static readonly Marshaller<StreamingOutputCallResponse> s_outputResponse = Marshallers.Protobuf(StreamingOutputCallResponse.Parser);

    public static readonly Method<Empty, Empty> EmptyCall =
        new(MethodType.Unary, ServiceName, "EmptyCall", s_empty, s_empty);

    public static readonly Method<SimpleRequest, SimpleResponse> UnaryCall =
        new(MethodType.Unary, ServiceName, "UnaryCall", s_simpleRequest, s_simpleResponse);

    public static readonly Method<StreamingOutputCallRequest, StreamingOutputCallResponse> StreamingOutputCall =
        new(MethodType.ServerStreaming, ServiceName, "StreamingOutputCall", s_outputRequest, s_outputResponse);

    public static readonly Method<StreamingInputCallRequest, StreamingInputCallResponse> StreamingInputCall =
        new(MethodType.ClientStreaming, ServiceName, "StreamingInputCall", s_inputRequest, s_inputResponse);

    public static readonly Method<StreamingOutputCallRequest, StreamingOutputCallResponse> FullDuplexCall =
        new(MethodType.DuplexStreaming, ServiceName, "FullDuplexCall", s_outputRequest, s_outputResponse);

    public static readonly Method<StreamingOutputCallRequest, StreamingOutputCallResponse> HalfDuplexCall =
        new(MethodType.DuplexStreaming, ServiceName, "HalfDuplexCall", s_outputRequest, s_outputResponse);

    /// <summary>In the proto but never bound by a conforming server: calls must get UNIMPLEMENTED.</summary>
    public static readonly Method<Empty, Empty> UnimplementedCall =
        new(MethodType.Unary, ServiceName, "UnimplementedCall", s_empty, s_empty);

    /// <summary>A service no interop server serves.</summary>
    public static readonly Method<Empty, Empty> UnimplementedServiceCall =
        new(MethodType.Unary, UnimplementedServiceName, "UnimplementedCall", s_empty, s_empty);
}
