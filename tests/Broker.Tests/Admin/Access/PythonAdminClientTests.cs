using System.Diagnostics;
using System.Text.Json;
using Relay.Broker.Tests.Access;
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
        var protos = Directory.GetFiles(Path.Combine(root, "protos", "relay", "v1"), "*.proto").Select(p => Path.GetRelativePath(Path.Combine(root, "protos"), p));

        var generated = await RunAsync(root, ["-m", "grpc_tools.protoc", "-I", "protos", "--python_out", stubs.Path, "--grpc_python_out", stubs.Path, .. protos.Select(p => Path.Combine("protos", p))], timeout.Token);
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
