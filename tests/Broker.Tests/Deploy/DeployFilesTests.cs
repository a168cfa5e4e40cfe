using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using Relay.Broker.Hosting;
using Relay.Broker.Persistence;

namespace Relay.Broker.Tests.Deploy;

/// <summary>
/// deploy/ is checked as far as this machine allows (no Docker engine, no Kubernetes): every file parses, every
/// RELAY_ setting it uses is a setting the broker really has, ports and probes agree with each other, the container
/// build copies paths that exist, and systemd accepts the unit.
/// </summary>
public sealed partial class DeployFilesTests
{
    private static readonly string Root = FindRepositoryRoot();

    private static string Deploy(params string[] parts) => Path.Combine([Root, "deploy", .. parts]);

    [Fact]
    public void KubernetesManifests_Kustomization_ListsEveryManifest()
    {
        var kustomization = LoadYaml(Deploy("kubernetes", "kustomization.yaml")).Single();
        var listed = kustomization.GetProperty("resources").EnumerateArray().Select(r => r.GetString()).ToHashSet();
        var files = Directory.GetFiles(Deploy("kubernetes"), "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml");

        listed.Should().BeEquivalentTo(files);
    }

    [Fact]
    public void KubernetesDeployment_Probes_HitTheBrokersHealthEndpointsOnItsHttpPort()
    {
        var deployment = Manifest("deployment.yaml", "Deployment");
        var container = deployment.GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        var ports = container.GetProperty("ports").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("containerPort").GetInt32());
        var config = Manifest("configmap.yaml", "ConfigMap").GetProperty("data");

        container.GetProperty("readinessProbe").GetProperty("httpGet").GetProperty("path").GetString().Should().Be("/readyz");
        container.GetProperty("livenessProbe").GetProperty("httpGet").GetProperty("path").GetString().Should().Be("/healthz");
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            container.GetProperty(probe).GetProperty("httpGet").GetProperty("port").GetString().Should().Be("http");
        }

        PortOf(config.GetProperty("RELAY_BROKER__HTTPLISTEN__0").GetString()!).Should().Be(ports["http"]);
        PortOf(config.GetProperty("RELAY_BROKER__LISTEN__0").GetString()!).Should().Be(ports["grpc"]);
        var service = Manifest("service.yaml", "Service");
        service.GetProperty("spec").GetProperty("ports")[0].GetProperty("targetPort").GetString().Should().Be("grpc");
        service.GetProperty("spec").GetProperty("selector").GetProperty("app.kubernetes.io/name").GetString()
            .Should().Be(deployment.GetProperty("spec").GetProperty("selector").GetProperty("matchLabels").GetProperty("app.kubernetes.io/name").GetString());
    }

    [Fact]
    public void DeployFiles_RelaySettings_AreSettingsTheBrokerHas()
    {
        var keys = new List<(string File, string Key)>();
        keys.AddRange(Manifest("configmap.yaml", "ConfigMap").GetProperty("data").EnumerateObject().Select(p => ("configmap.yaml", p.Name)));
        keys.AddRange(Manifest("secret.yaml", "Secret").GetProperty("stringData").EnumerateObject().Select(p => ("secret.yaml", p.Name)));
        var compose = LoadYaml(Deploy("compose.yaml")).Single();
        keys.AddRange(compose.GetProperty("services").GetProperty("broker").GetProperty("environment").EnumerateObject().Select(p => ("compose.yaml", p.Name)));
        keys.AddRange(RelayEnvInDockerfile().Matches(File.ReadAllText(Deploy("docker", "Dockerfile"))).Select(m => ("Dockerfile", m.Groups[1].Value)));

        keys.Where(k => k.Key.StartsWith("RELAY_", StringComparison.Ordinal)).Should().HaveCountGreaterThan(8);
        foreach (var (file, key) in keys.Where(k => k.Key.StartsWith("RELAY_", StringComparison.Ordinal)))
        {
            IsBrokerSetting(key).Should().BeTrue($"{file} sets {key}, which must bind to a property of the broker's options");
        }
    }

    [Fact]
    public void Compose_Broker_WaitsForAHealthyPostgresAndKeepsItsData()
    {
        var services = LoadYaml(Deploy("compose.yaml")).Single().GetProperty("services");
        var broker = services.GetProperty("broker");

        broker.GetProperty("depends_on").GetProperty("postgres").GetProperty("condition").GetString().Should().Be("service_healthy");
        services.GetProperty("postgres").GetProperty("healthcheck").GetProperty("test").GetArrayLength().Should().BeGreaterThan(1);
        broker.GetProperty("volumes").EnumerateArray().Select(v => v.GetString()).Should().Contain(v => v!.EndsWith(":/var/lib/relay", StringComparison.Ordinal));
        broker.GetProperty("build").GetProperty("dockerfile").GetString().Should().Be("deploy/docker/Dockerfile");
        File.Exists(Path.Combine(Root, "deploy", broker.GetProperty("build").GetProperty("context").GetString()!, "deploy/docker/Dockerfile")).Should().BeTrue();
    }

    [Fact]
    public void Dockerfile_Build_CopiesExistingPathsAndRunsTheBrokerAssembly()
    {
        var dockerfile = File.ReadAllLines(Deploy("docker", "Dockerfile"));

        dockerfile.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)).Should().Be(2, "a multi-stage build: SDK to build, ASP.NET runtime to run");
        foreach (var line in dockerfile.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from", StringComparison.Ordinal)))
        {
            var sources = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1];
            foreach (var source in sources)
            {
                Path.Exists(Path.Combine(Root, source)).Should().BeTrue($"'{line}' copies {source} from the repository root");
            }
        }

        dockerfile.Should().Contain(l => l.Contains("dotnet publish src/Broker/Relay.Broker.csproj", StringComparison.Ordinal));
        File.Exists(Path.Combine(Root, "src/Broker/Relay.Broker.csproj")).Should().BeTrue();
        var assemblyName = typeof(BrokerApplication).Assembly.GetName().Name;
        dockerfile.Should().Contain(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains($"\"{assemblyName}.dll\"", StringComparison.Ordinal));
        dockerfile.Should().Contain("USER app", "the broker does not need root");
    }

    [Fact]
    public async Task SystemdBrokerUnit_Verify_ReportsNothing()
    {
        // systemd-analyze checks that ExecStart is executable: point it at the broker built beside these tests.
        var unit = await File.ReadAllTextAsync(Deploy("systemd", "relay-broker.service"));
        unit.Should().Contain("ExecStart=/opt/relay/relay-broker ");
        var apphost = Path.Combine(AppContext.BaseDirectory, "relay-broker");
        File.Exists(apphost).Should().BeTrue("the broker's apphost is copied beside the tests");
        using var directory = new Infrastructure.TempDirectory("relay-systemd-");
        Directory.CreateDirectory(directory.Path);
        var path = Path.Combine(directory.Path, "relay-broker.service");
        await File.WriteAllTextAsync(path, unit.Replace("/opt/relay/relay-broker", apphost, StringComparison.Ordinal));

        var (exitCode, output) = await RunAsync("systemd-analyze", "verify", path);

        exitCode.Should().Be(0, output);
        output.Should().BeEmpty("systemd reports unknown or malformed settings as warnings without failing");
    }

    private static JsonElement Manifest(string file, string kind) =>
        LoadYaml(Deploy("kubernetes", file)).Single(d => d.GetProperty("kind").GetString() == kind);

    private static int PortOf(string listen) => int.Parse(listen[(listen.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>RELAY_SECTION__PROPERTY[__index] binds to a public property of the section's options class.</summary>
    private static bool IsBrokerSetting(string key)
    {
        var parts = key["RELAY_".Length..].Split("__");
        var type = parts[0].ToUpperInvariant() switch
        {
            "BROKER" => typeof(BrokerOptions),
            "DATABASE" => typeof(DatabaseOptions),
            _ => null,
        };
        return type is not null && parts.Length >= 2
            && type.GetProperty(parts[1], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is { CanWrite: true };
    }

    private static List<JsonElement> LoadYaml(string path)
    {
        const string Script = "import sys, json, yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None], sys.stdout)";
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(path);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        process.ExitCode.Should().Be(0, $"{path} must be valid YAML (python3-yaml from scripts/prereqs.sh): {stderr}");
        using var document = JsonDocument.Parse(stdout);
        return document.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, (await stdout + await stderr).Trim());
    }

    private static string FindRepositoryRoot()
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

    [GeneratedRegex(@"\b(RELAY_[A-Z0-9_]+)=")]
    private static partial Regex RelayEnvInDockerfile();
}
