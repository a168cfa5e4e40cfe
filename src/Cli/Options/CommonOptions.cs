using System.CommandLine;

namespace Relay.Cli.Options;

/// <summary>Options every command accepts (declared once on the root, recursive).</summary>
internal static class CommonOptions
{
    public const string BrokerVariable = "RELAY_BROKER";
    public const string TokenVariable = "RELAY_TOKEN";
    public const string ProfileVariable = "RELAY_PROFILE";

    public static readonly Option<string?> Broker = new("--broker")
    {
        Description = "Broker address: host:port, http://host:port or https://host:port. Default: $RELAY_BROKER, then the profile.",
        HelpName = "url",
        Recursive = true,
    };

    public static readonly Option<string?> Token = new("--token")
    {
        Description = "Personal token (relay_pat_...). Default: $RELAY_TOKEN, then the profile.",
        HelpName = "token",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print only data, as JSON with stable snake_case field names, on stdout.",
        Recursive = true,
    };

    public static readonly Option<FileInfo?> CaCert = new("--ca-cert")
    {
        Description = "PEM file with the CA certificate(s) that signed the broker's TLS certificate (a private CA).",
        HelpName = "pem",
        Recursive = true,
    };

    public static readonly Option<string?> Profile = new("--profile")
    {
        Description = "Profile in relayctl.json to use (or, for login, to write). Default: $RELAY_PROFILE, then the current one.",
        HelpName = "name",
        Recursive = true,
    };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Broker);
        root.Options.Add(Token);
        root.Options.Add(Json);
        root.Options.Add(CaCert);
        root.Options.Add(Profile);
    }
}
