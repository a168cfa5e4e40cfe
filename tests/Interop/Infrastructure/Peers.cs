using System.Collections.Concurrent;
using System.Diagnostics;

namespace Relay.Interop.Tests.Infrastructure;

/// <summary>The stock gRPC implementations the interop tests run against (tests/Interop/peers).</summary>
public enum Peer
{
    /// <summary>grpc-core through Debian's python3-grpcio.</summary>
    Python,

    /// <summary>@grpc/grpc-js from npm.</summary>
    Node,
}

/// <summary>How a client reaches a server.</summary>
public enum Transport
{
    /// <summary>h2c on 127.0.0.1.</summary>
    Tcp,

    /// <summary>h2c over a Unix domain socket.</summary>
    Unix,
}

/// <summary>Where the peers live and how to start them; checks that their runtimes are installed.</summary>
internal static class Peers
{
    public const string SystemPython = "/usr/bin/python3";

    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    // Checked once per test run and per peer (a race may check twice, harmlessly): a missing runtime
    // fails every test that needs it.
    private static readonly ConcurrentDictionary<Peer, Task<string?>> s_problems = new();

    public static string RepoRoot => s_repoRoot.Value;

    public static string PeersDir => Path.Combine(RepoRoot, "tests", "Interop", "peers");

    /// <summary>The program and leading arguments that run <paramref name="peer"/>'s <paramref name="script"/>.</summary>
    public static (string FileName, string Script) Command(Peer peer, string script) => peer switch
    {
        Peer.Python => (SystemPython, Path.Combine(PeersDir, "python", script + ".py")),
        Peer.Node => ("node", Path.Combine(PeersDir, "node", script + ".js")),
        _ => throw new ArgumentOutOfRangeException(nameof(peer), peer, null),
    };

    /// <summary>
    /// Fails (never skips) when <paramref name="peer"/>'s runtime is missing: a silently skipped interop
    /// suite would hide a broken environment. CI installs the runtimes through <c>make test</c>.
    /// </summary>
    public static async Task EnsureInstalledAsync(Peer peer)
    {
        var problem = await s_problems.GetOrAdd(peer, static p => p == Peer.Python ? CheckPythonAsync() : CheckNodeAsync());
        if (problem is not null)
        {
            throw new InvalidOperationException($"The {peer} interop peer cannot run: {problem}. Run `make prereqs` (CI does it through `make test`).");
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Relay.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Relay.sln above {AppContext.BaseDirectory}; the interop tests must run from a checkout.");
    }

    private static async Task<string?> CheckPythonAsync()
    {
        if (!File.Exists(SystemPython))
        {
            return $"{SystemPython} does not exist";
        }

        // grpc_tools too: the Python peers generate their stubs with it on first use.
        var (exitCode, output) = await RunQuickAsync(SystemPython, ["-c", "import grpc, grpc_tools"]);
        return exitCode == 0 ? null : $"`{SystemPython} -c \"import grpc, grpc_tools\"` failed (python3-grpcio / python3-grpc-tools missing?): {output.Trim()}";
    }

    private static async Task<string?> CheckNodeAsync()
    {
        var modules = Path.Combine(PeersDir, "node", "node_modules");
        foreach (var package in new[] { "@grpc/grpc-js", "@grpc/proto-loader" })
        {
            if (!File.Exists(Path.Combine(modules, package, "package.json")))
            {
                return $"{Path.Combine(modules, package)} is missing (npm ci --prefix tests/Interop/peers/node)";
            }
        }

        var (exitCode, output) = await RunQuickAsync("node", ["--version"]);
        return exitCode == 0 ? null : $"`node --version` failed: {output.Trim()}";
    }

    private static async Task<(int ExitCode, string Output)> RunQuickAsync(string fileName, string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(info)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"{fileName} did not finish within 30 s");
            }

            return (process.ExitCode, await stdout + await stderr);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, $"{fileName} could not be started: {ex.Message}");
        }
    }
}
