using System.CommandLine;
using Relay.Agent.Config;
using Relay.Agent.Hosting;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Agent.Link;

/// <summary>
/// <c>relay-agent enroll --broker &lt;url&gt; --token &lt;enrolment token&gt; [--name &lt;machine name&gt;] [--ca-cert &lt;pem&gt;]</c>:
/// exchanges a one-time enrolment token for the machine credential and stores it in agent.json (0600).
/// </summary>
internal static class EnrollCommand
{
    public const int ExitOk = 0;
    public const int ExitOther = 1;
    public const int ExitUsage = 2;
    public const int ExitTokenRefused = 4;
    public const int ExitUnreachable = 5;

    private const int Attempts = 3;

    public static Command Create()
    {
        var broker = new Option<string>("--broker") { Description = "The broker's gRPC address: host:port, https://host:port or unix:/path.", Required = true };
        var token = new Option<string>("--token") { Description = "The one-time enrolment token from 'relayctl machines enroll <name>'.", Required = true };
        var name = new Option<string?>("--name") { Description = "The machine name to ask for (default: the name given with the token, else the host name)." };
        var caCert = new Option<string?>("--ca-cert") { Description = "A PEM file with the CA that signs the broker's TLS certificate (default: the system's roots)." };
        var command = new Command("enroll", "Enrol this machine with a broker: exchange an enrolment token for the machine credential.")
        {
            broker, token, name, caCert,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var request = new EnrollArguments(result.GetValue(broker)!, result.GetValue(token)!, result.GetValue(name), result.GetValue(caCert));
            var output = result.InvocationConfiguration.Output;
            var error = result.InvocationConfiguration.Error;
            return await RunAsync(request, AgentConfigStore.ForCurrentUser(), output, error, cancellationToken);
        });
        return command;
    }

    /// <summary>Enrols, saves the configuration and says what it did; returns the exit code.</summary>
    public static async Task<int> RunAsync(EnrollArguments arguments, AgentConfigStore store, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(arguments.Token))
        {
            await error.WriteLineAsync("relay-agent enroll: --token is empty; pass the relay_enr_… token from 'relayctl machines enroll <name>'.");
            return ExitUsage;
        }

        string? caPath = null;
        if (!string.IsNullOrEmpty(arguments.CaCertificate))
        {
            caPath = Path.GetFullPath(arguments.CaCertificate);
        }

        // A CA only makes sense with TLS: a bare host:port then means https.
        var address = caPath is not null && !arguments.Broker.Contains("://", StringComparison.Ordinal) && !arguments.Broker.StartsWith("unix:", StringComparison.Ordinal)
            ? "https://" + arguments.Broker
            : arguments.Broker;

        AgentConfig existing;
        try
        {
            existing = store.Load();
        }
        catch (AgentConfigException ex)
        {
            await error.WriteLineAsync("relay-agent enroll: " + ex.Message);
            return ExitOther;
        }

        GrpcChannel channel;
        try
        {
            channel = LinkChannels.Create(address, caPath);
        }
        catch (LinkConfigurationException ex)
        {
            await error.WriteLineAsync("relay-agent enroll: " + ex.Message);
            return ExitUsage;
        }

        EnrollResponse response;
        using (channel)
        {
            var outcome = await EnrollAsync(new AgentLink.AgentLinkClient(channel), arguments, TimeSpan.FromMilliseconds(500), cancellationToken);
            if (outcome.Error is { } failure)
            {
                await error.WriteLineAsync("relay-agent enroll: " + Describe(failure, address));
                return ExitCode(failure.StatusCode);
            }

            response = outcome.Response!;
        }

        var config = existing with
        {
            BrokerAddress = address,
            CaCertificatePath = caPath,
            MachineId = response.MachineId,
            MachineName = response.MachineName,
            Credential = response.Credential,
            EnrolledAt = response.EnrolledAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow,
        };
        try
        {
            store.Save(config);
        }
        catch (AgentConfigException ex)
        {
            await error.WriteLineAsync("relay-agent enroll: enrolled as '" + response.MachineName + "', but " + ex.Message
                + " Fix that and enrol again with a new token: the credential was not stored.");
            return ExitOther;
        }

        await output.WriteLineAsync($"Enrolled this machine as '{response.MachineName}' (machine id {response.MachineId}) with broker {address}"
            + (response.BrokerVersion.Length > 0 ? $" ({response.BrokerVersion})." : "."));
        await output.WriteLineAsync($"Saved the broker address and the machine credential to {store.FilePath} (mode 0600).");
        if (!string.IsNullOrEmpty(existing.MachineId) && existing.MachineId != response.MachineId)
        {
            await output.WriteLineAsync($"This replaces the earlier enrolment as machine {existing.MachineName ?? existing.MachineId}.");
        }

        await output.WriteLineAsync("Start the daemon with 'relay-agent run' (or 'systemctl --user restart relay-agent'); a running daemon picks the new credential up by itself.");
        return ExitOk;
    }

    /// <summary>
    /// AgentLink.Enroll with a few retries when the broker cannot be reached or does not answer in time. The request id
    /// is made once: a retry after an answer that got lost replaces that attempt's credential instead of being refused.
    /// </summary>
    private static async Task<(EnrollResponse? Response, RpcException? Error)> EnrollAsync(
        AgentLink.AgentLinkClient client, EnrollArguments arguments, TimeSpan retryDelay, CancellationToken cancellationToken)
    {
        var request = new EnrollRequest
        {
            EnrollmentToken = arguments.Token.Trim(),
            RequestId = Guid.NewGuid().ToString("D"),
            MachineName = arguments.Name ?? string.Empty,
            Hostname = Environment.MachineName,
            Os = BrokerLink.OperatingSystemName,
            AgentVersion = AgentCommandLine.Version,
        };
        RpcException? last = null;
        for (var attempt = 1; attempt <= Attempts; attempt++)
        {
            try
            {
                return (await client.EnrollAsync(request, deadline: DateTime.UtcNow.AddSeconds(15), cancellationToken: cancellationToken), null);
            }
            catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < Attempts)
            {
                last = ex;
                await Task.Delay(retryDelay * attempt, cancellationToken);
            }
            catch (RpcException ex)
            {
                return (null, ex);
            }
        }

        return (null, last);
    }

    private static string Describe(RpcException failure, string address) => failure.StatusCode switch
    {
        StatusCode.Unauthenticated =>
            "the enrolment token was refused (spent, expired or unknown): create a new one with 'relayctl machines enroll <name>'. (" + failure.Status.Detail + ")",
        StatusCode.AlreadyExists =>
            failure.Status.Detail + " Choose another name with --name.",
        StatusCode.Unavailable or StatusCode.DeadlineExceeded =>
            $"the broker at {address} cannot be reached ({failure.Status.Detail}). Check the address, that the broker runs, and the network; for TLS, the --ca-cert.",
        StatusCode.ResourceExhausted =>
            "the broker refuses more enrolment attempts from this address for now; wait a minute and try again. (" + failure.Status.Detail + ")",
        _ => $"the broker refused the enrolment ({failure.StatusCode}): {failure.Status.Detail}",
    };

    private static int ExitCode(StatusCode code) => code switch
    {
        StatusCode.Unauthenticated => ExitTokenRefused,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => ExitUnreachable,
        StatusCode.InvalidArgument => ExitUsage,
        _ => ExitOther,
    };
}

/// <summary>What <c>relay-agent enroll</c> was given.</summary>
/// <param name="Broker">The broker's address.</param>
/// <param name="Token">The enrolment token.</param>
/// <param name="Name">The machine name wanted, or null.</param>
/// <param name="CaCertificate">A PEM file with the broker's CA, or null.</param>
internal sealed record EnrollArguments(string Broker, string Token, string? Name, string? CaCertificate);
