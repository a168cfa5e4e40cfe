using System.CommandLine;
using Microsoft.Extensions.Options;
using Relay.Agent.Config;

namespace Relay.Agent.Hosting;

/// <summary><c>relay-agent run</c>: the daemon, until SIGTERM or Ctrl+C. Exit codes: 0 stopped, 1 runtime error, 2 configuration error.</summary>
internal static class RunCommand
{
    /// <summary>
    /// Runtime settings the daemon is started with (deploy/systemd/relay-agent.service, relay-bench): tier hot code up at
    /// once, without an instrumented tier between (docs/agent.md, "CPU per hook"). The runtime has read them by the time
    /// <c>run</c> starts; they are removed from the environment then, so that what the daemon starts (tmux, the Claude
    /// sessions it launches and every program they run) does not inherit them.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> DaemonRuntimeSettings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["DOTNET_TieredPGO"] = "0",
        ["DOTNET_TC_CallCountingDelayMs"] = "0",
    };

    public static Command Create()
    {
        var command = new Command(
            "run",
            "Run the daemon until stopped (SIGTERM or Ctrl+C): the Unix socket for channels and the hook client, the loopback http hook endpoint, the broker link.");
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            foreach (var name in DaemonRuntimeSettings.Keys)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            try
            {
                await using var app = AgentApplication.Build(new Dictionary<string, string?>());
                await app.RunAsync(cancellationToken);
                return 0;
            }
            catch (AgentStartupException ex)
            {
                await error.WriteLineAsync("relay-agent run: " + ex.Message);
                return ex.ExitCode;
            }
            catch (AgentConfigException ex)
            {
                await error.WriteLineAsync("relay-agent run: " + ex.Message);
                return 2;
            }
            catch (OptionsValidationException ex)
            {
                await error.WriteLineAsync("relay-agent run: invalid configuration: " + string.Join("; ", ex.Failures));
                return 2;
            }
            catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                await error.WriteLineAsync(
                    "relay-agent run: " + ex.Message + " Another program holds the hook port: stop it, or set another \"hook_port\" in "
                    + AgentConfigStore.ForCurrentUser().FilePath + " and run 'relay-agent install' again.");
                return 1;
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync("relay-agent run: " + ex.Message);
                return 1;
            }
        });
        return command;
    }
}
