using System.Diagnostics;
using System.Text.Json;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Admin.Access;

/// <summary>
/// A stock gRPC client (Debian python3-grpcio, stubs generated at test time from protos/) drives the Admin service over
/// TCP with the first-start admin token: proof that the broker's auth is plain gRPC metadata, not a private protocol.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PythonAdminClientTests(PostgresFixture postgres)
{
    private const string Python = "/usr/bin/python3";

    // Debian's python3-grpc-tools bundles protoc 3.5, which predates proto3 `optional` (admin_sessions.proto uses it). So
    // the messages come from the system protoc (protobuf-compiler 3.21, matching python3-protobuf), and the service stubs
    // from grpc_tools' own plugin fed that protoc's descriptors, so its old parser never reads the .proto files.
    private const string Generate = """
        import os, subprocess, sys
        import grpc_tools
        from grpc_tools import protoc

        root, out = sys.argv[1], sys.argv[2]
        include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
        protos = sorted(os.path.join("protos", "relay", "v1", f) for f in os.listdir(os.path.join(root, "protos", "relay", "v1")) if f.endswith(".proto"))
        descriptors = os.path.join(out, "relay.pb")
        subprocess.run(["protoc", "-I", "protos", "-I", include, "--include_imports", "--descriptor_set_out=" + descriptors, "--python_out=" + out] + protos,
                       cwd=root, check=True)
        sys.exit(protoc.main(["protoc", "--descriptor_set_in=" + descriptors, "--grpc_python_out=" + out, "relay/v1/admin.proto"]))
        """;

    private const string Script = """
        import json, sys
        import grpc
        sys.path.insert(0, sys.argv[1])
        from relay.v1 import admin_pb2_grpc, admin_access_pb2, common_pb2

        address, token = sys.argv[2], sys.argv[3]
        with grpc.insecure_channel(address) as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            auth = [("authorization", "Bearer " + token)]
            info = admin.GetServerInfo(admin_access_pb2.GetServerInfoRequest(), metadata=auth, timeout=60)
            tokens = admin.ListTokens(admin_access_pb2.ListTokensRequest(), metadata=auth, timeout=60)
            try:
                admin.GetServerInfo(admin_access_pb2.GetServerInfoRequest(), timeout=60)
                refused = "OK"
            except grpc.RpcError as error:
                refused = error.code().name
            print(json.dumps({
                "caller": info.caller.display_name,
                "role": common_pb2.Role.Name(info.caller_role),
                "database_mode": info.database_mode,
                "max_page_size": info.limits.max_page_size,
                "tokens": [t.name for t in tokens.tokens],
                "roles": [common_pb2.Role.Name(t.role) for t in tokens.tokens],
                "secret_prefixes": [t.secret_prefix for t in tokens.tokens],
                "without_token": refused,
            }))
        """;

    [Fact]
    public async Task PythonGrpcio_GetServerInfoAndListTokens_WithAdminToken()
    {
        using var timeout = TestTimeout.Start();
        await using var database = await postgres.CreateDatabaseAsync(migrate: true, timeout.Token);
        await using var broker = await TestBroker.StartAsync(database, cancellationToken: timeout.Token);
        var secret = (await File.ReadAllTextAsync(Path.Combine(broker.DataDirectory, "admin.token"), timeout.Token)).Trim();
        using var stubs = new TempDirectory("relay-pystubs-");
        Directory.CreateDirectory(stubs.Path);
        var root = RepositoryRoot();
        var generator = Path.Combine(stubs.Path, "generate.py");
        await File.WriteAllTextAsync(generator, Generate, timeout.Token);

        var generated = await RunAsync(root, [generator, root, stubs.Path], timeout.Token);
        generated.ExitCode.Should().Be(0, generated.Error);
        var scriptPath = Path.Combine(stubs.Path, "admin_client.py");
        await File.WriteAllTextAsync(scriptPath, Script, timeout.Token);
        var run = await RunAsync(root, [scriptPath, stubs.Path, broker.Address, secret], timeout.Token);

        run.ExitCode.Should().Be(0, run.Error);
        using var output = JsonDocument.Parse(run.Output);
        var result = output.RootElement;
        result.GetProperty("caller").GetString().Should().Be("admin");
        result.GetProperty("role").GetString().Should().Be("ROLE_ADMIN");
        result.GetProperty("database_mode").GetString().Should().Be("external");
        result.GetProperty("max_page_size").GetInt32().Should().Be(500);
        result.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()).Should().Equal("admin");
        result.GetProperty("roles").EnumerateArray().Select(t => t.GetString()).Should().Equal("ROLE_ADMIN");
        secret.Should().StartWith(result.GetProperty("secret_prefixes")[0].GetString());
        result.GetProperty("without_token").GetString().Should().Be("UNAUTHENTICATED");
        run.Output.Should().NotContain(secret);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Relay.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Relay.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string workingDirectory, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Python)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start " + Python);
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await error);
    }
}
