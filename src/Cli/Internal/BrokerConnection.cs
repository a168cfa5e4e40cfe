using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Relay.Cli.Options;
using Relay.Grpc;
using Relay.Protocol.V1;

namespace Relay.Cli.Internal;

/// <summary>Where and as whom to connect, after flags, environment and profile have been combined.</summary>
internal sealed record ConnectionSettings(string Broker, string Token, string? CaCert);

/// <summary>A channel to the broker whose every call carries the token; dispose when the command ends.</summary>
internal sealed class BrokerConnection : IDisposable
{
    /// <summary>The deadline of an ordinary call; a broker that has not answered by then is reported as a timeout.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(30);

    private readonly GrpcChannel _channel;

    private BrokerConnection(GrpcChannel channel)
    {
        _channel = channel;
        Admin = new Admin.AdminClient(channel);
    }

    public Admin.AdminClient Admin { get; }

    /// <summary>Flags win over the environment, which wins over the profile.</summary>
    public static async Task<ConnectionSettings> ResolveAsync(ParseResult parseResult, CliContext context, bool useProfiles, CancellationToken cancellationToken)
    {
        var profile = useProfiles ? await LoadProfileAsync(parseResult, context, cancellationToken) : null;
        var broker = parseResult.GetValue(CommonOptions.Broker) ?? context.GetEnvironmentVariable(CommonOptions.BrokerVariable) ?? profile?.Broker;
        if (string.IsNullOrWhiteSpace(broker))
        {
            throw new CliException(ExitCodes.Usage, "no broker given: pass --broker <url>, set " + CommonOptions.BrokerVariable
                + ", or run 'relayctl login --broker <url> --token <token>'.");
        }

        var token = parseResult.GetValue(CommonOptions.Token) ?? context.GetEnvironmentVariable(CommonOptions.TokenVariable) ?? profile?.Token;
        if (string.IsNullOrWhiteSpace(token))
        {
            throw new CliException(ExitCodes.AccessDenied, "no token given: pass --token <token>, set " + CommonOptions.TokenVariable
                + ", or run 'relayctl login --broker <url> --token <token>'.");
        }

        var caCert = parseResult.GetValue(CommonOptions.CaCert)?.FullName ?? profile?.CaCert;
        return new ConnectionSettings(broker.Trim(), token.Trim(), caCert);
    }

    public static BrokerConnection Open(ConnectionSettings settings)
    {
        var options = new GrpcChannelOptions();
        if (settings.CaCert is { } path)
        {
            options.RootCertificates = LoadCertificates(path);
        }

        options.Interceptors.Add(new BearerTokenInterceptor(settings.Token));
        try
        {
            return new BrokerConnection(GrpcChannel.ForAddress(settings.Broker, options));
        }
        catch (Exception e) when (e is ArgumentException or FormatException or UriFormatException)
        {
            throw new CliException(ExitCodes.Usage, "'" + settings.Broker + "' is not a broker address (" + e.Message
                + "); use host:port, http://host:port or https://host:port.");
        }
    }

    /// <summary>Options for one call: the token is added by the interceptor; this adds deadline and cancellation.</summary>
    public static CallOptions Call(CancellationToken cancellationToken, TimeSpan? timeout = null) =>
        new(Deadline: DateTime.UtcNow + (timeout ?? DefaultCallTimeout), CancellationToken: cancellationToken);

    public void Dispose() => _channel.Dispose();

    private static async Task<Profile?> LoadProfileAsync(ParseResult parseResult, CliContext context, CancellationToken cancellationToken)
    {
        var store = new ProfileStore(context.ConfigDirectory);
        var file = await store.LoadAsync(cancellationToken);
        var requested = parseResult.GetValue(CommonOptions.Profile) ?? context.GetEnvironmentVariable(CommonOptions.ProfileVariable);
        if (requested is not null)
        {
            return file.Profiles.TryGetValue(requested, out var named)
                ? named
                : throw new CliException(ExitCodes.Usage, "no profile '" + requested + "' in " + store.FilePath
                    + "; create it with 'relayctl login --profile " + requested + " --broker <url> --token <token>'.");
        }

        return file.Profiles.GetValueOrDefault(file.Current ?? ProfileStore.DefaultProfile);
    }

    private static X509Certificate2Collection LoadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new CliException(ExitCodes.Error, "cannot read the CA certificate " + path + ": " + e.Message);
        }

        return certificates.Count > 0
            ? certificates
            : throw new CliException(ExitCodes.Error, path + " holds no PEM certificate (expected -----BEGIN CERTIFICATE-----).");
    }

    private sealed class BearerTokenInterceptor(string token) : ClientInterceptor
    {
        public override ValueTask OnCallStartingAsync(ClientCallContext context, CancellationToken cancellationToken)
        {
            context.Headers.Add("authorization", "Bearer " + token);
            return ValueTask.CompletedTask;
        }
    }
}
