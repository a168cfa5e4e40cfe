using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Relay.Protocol.Tests;

/// <summary>
/// The committed bindings (src/Protocol/Bindings/*.g.cs) are exactly what <see cref="BindingsGenerator"/>
/// writes for the current protos. With RELAY_REGENERATE_BINDINGS=1 the test rewrites them instead; the
/// project files then leave the old bindings (and the tests that use them) out of the build, so
/// regeneration works even when a proto change has broken them.
/// </summary>
public sealed class GeneratedBindingsTests
{
    private const string RegenerateVariable = "RELAY_REGENERATE_BINDINGS";

    [Fact]
    public void GeneratedBindings_MatchProtoDescriptors()
    {
        var root = ProtocolContract.RepositoryRoot;
        var expected = BindingsGenerator.GenerateAll(root);
        var folder = Path.Combine(root, BindingsGenerator.BindingsFolder);
        var committed = Directory.Exists(folder)
            ? Directory.GetFiles(folder, "*.g.cs").Select(f => $"{BindingsGenerator.BindingsFolder}/{Path.GetFileName(f)}").ToList()
            : [];
        var stale = committed.Except(expected.Select(f => f.Path), StringComparer.Ordinal).ToList();

        if (Environment.GetEnvironmentVariable(RegenerateVariable) == "1")
        {
            Directory.CreateDirectory(folder);
            foreach (var file in expected)
            {
                File.WriteAllText(Path.Combine(root, file.Path), file.Text);
            }

            foreach (var path in stale)
            {
                File.Delete(Path.Combine(root, path));
            }

            return;
        }

        var problems = new List<string>();
        foreach (var file in expected)
        {
            var path = Path.Combine(root, file.Path);
            if (!File.Exists(path))
            {
                problems.Add($"{file.Path} is missing");
            }
            else if (FirstDifference(file.Text, File.ReadAllText(path).ReplaceLineEndings("\n")) is { } difference)
            {
                problems.Add($"{file.Path} differs from the generator's output at {difference}");
            }
        }

        problems.AddRange(stale.Select(path => $"{path} belongs to no service of the contract"));
        problems.Should().BeEmpty(
            "the committed bindings must be the generator's output for the current protos; regenerate them with `{0}` "
            + "(see src/Protocol/README.md) and review the diff", BindingsGenerator.RegenerateCommand);
    }

    [Fact]
    public void Generate_EveryMethodShape_EmitsMatchingServerAndClientSignatures()
    {
        var text = BindingsGenerator.Generate(ShapesService(), typeof(GeneratedBindingsTests), ProtoComments.Parse(ShapesProto));
        const string empty = "global::Google.Protobuf.WellKnownTypes.Empty";

        text.Should().Contain("/// <summary>Shapes of calls, for <c>tests</c> &amp; more.</summary>\npublic static partial class Shapes");
        text.Should().Contain($"public static readonly Method<{empty}, {empty}> UploadMethod = new(\n        MethodType.ClientStreaming,");
        text.Should().Contain($"binder.AddUnaryMethod(GetMethod, static (service, request, context) => service.Get(request, context));");
        text.Should().Contain($"binder.AddServerStreamingMethod(ListMethod, static (service, request, responseStream, context) => service.List(request, responseStream, context));");
        text.Should().Contain($"binder.AddClientStreamingMethod(UploadMethod, static (service, requestStream, context) => service.Upload(requestStream, context));");
        text.Should().Contain($"binder.AddDuplexStreamingMethod(ChatMethod, static (service, requestStream, responseStream, context) => service.Chat(requestStream, responseStream, context));");
        text.Should().Contain($"public virtual Task<{empty}> Upload(IAsyncStreamReader<{empty}> requestStream, ServerCallContext context) =>\n"
            + "            throw new RpcException(new Status(StatusCode.Unimplemented, \"Method test.Shapes/Upload is not implemented.\"));");
        text.Should().Contain($"public virtual Task Chat(IAsyncStreamReader<{empty}> requestStream, IServerStreamWriter<{empty}> responseStream, ServerCallContext context) =>");
        text.Should().Contain($"public AsyncClientStreamingCall<{empty}, {empty}> UploadAsync(Metadata? headers = null, DateTime? deadline = null, CancellationToken cancellationToken = default) =>\n"
            + "            UploadAsync(new CallOptions(Headers: headers, Deadline: deadline, CancellationToken: cancellationToken));");
        text.Should().Contain($"public AsyncClientStreamingCall<{empty}, {empty}> UploadAsync(CallOptions options) =>\n"
            + "            CallInvoker.AsyncClientStreamingCall(UploadMethod, options);");
        text.Should().Contain($"public AsyncServerStreamingCall<{empty}> ListAsync({empty} request, CallOptions options) =>\n"
            + "            CallInvoker.AsyncServerStreamingCall(ListMethod, options, request);");
        text.Should().Contain("/// <summary>\n        /// Streams <c>many</c> &lt;things&gt;\n        /// back.\n        /// </summary>");
        text.Should().Contain("/// <summary>Calls <c>test.Shapes/Get</c>.</summary>", "an rpc without a comment gets a neutral summary");
    }

    [Fact]
    public void Parse_CommentSeparatedByBlankLine_IsNotAttached()
    {
        var comments = ProtoComments.Parse(ShapesProto);

        comments.For("test.Shapes.Get").Should().BeNull();
        comments.For("test.Shapes.List").Should().Be("Streams `many` <things>\nback.");
    }

    /// <summary>Where two texts first differ, as "line N: expected ..., committed ..."; null when equal.</summary>
    private static string? FirstDifference(string expected, string committed)
    {
        if (expected == committed)
        {
            return null;
        }

        var expectedLines = expected.Split('\n');
        var committedLines = committed.Split('\n');
        var line = 0;
        while (line < expectedLines.Length && line < committedLines.Length && expectedLines[line] == committedLines[line])
        {
            line++;
        }

        static string At(string[] lines, int i) => i < lines.Length ? $"\"{lines[i].Trim()}\"" : "end of file";
        return $"line {line + 1}: expected {At(expectedLines, line)}, committed {At(committedLines, line)}";
    }

    private const string ShapesProto = """
        syntax = "proto3";
        package test;

        // Shapes of calls, for `tests` & more.
        service Shapes {
          // ---- A section header, not a doc ----

          rpc Get(google.protobuf.Empty) returns (google.protobuf.Empty);
          // Streams `many` <things>
          // back.
          rpc List(google.protobuf.Empty) returns (stream google.protobuf.Empty);
          rpc Upload(stream google.protobuf.Empty) returns (google.protobuf.Empty);
          rpc Chat(stream google.protobuf.Empty) returns (stream google.protobuf.Empty);
        }
        """;

    /// <summary>A service with all four method shapes (the relay.v1 contract has no client streaming),
    /// built on the real <see cref="Empty"/> descriptor so its messages have CLR types.</summary>
    private static ServiceDescriptor ShapesService()
    {
        var emptyType = ".google.protobuf.Empty";
        var service = new ServiceDescriptorProto { Name = "Shapes" };
        foreach (var (name, clientStreaming, serverStreaming) in new[] { ("Get", false, false), ("List", false, true), ("Upload", true, false), ("Chat", true, true) })
        {
            service.Method.Add(new MethodDescriptorProto
            {
                Name = name, InputType = emptyType, OutputType = emptyType, ClientStreaming = clientStreaming, ServerStreaming = serverStreaming,
            });
        }

        var file = new FileDescriptorProto { Name = "test/shapes.proto", Package = "test", Syntax = "proto3", Dependency = { "google/protobuf/empty.proto" }, Service = { service } };
        return FileDescriptor.FromGeneratedCode(file.ToByteArray(), [EmptyReflection.Descriptor], new GeneratedClrTypeInfo(null, null, null)).Services[0];
    }
}
