using System.Text.Json;
using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>relayctl against a real relay-broker process with its real (embedded) PostgreSQL.</summary>
[Collection(BrokerCollection.Name)]
public sealed class BrokerTests(BrokerProcess broker) : IDisposable
{
    private readonly CliHarness _cli = new();

    [Fact]
    public async Task ScriptedFlow_TokensCreateMachinesEnrollStatusSessionsList_Succeeds()
    {
        var created = await AsAdminAsync("tokens", "create", "ci-flow", "--role", "admin", "--json");
        created.ExitCode.Should().Be(0, created.Stderr);
        var secret = Json(created).GetProperty("secret").GetString()!;
        secret.Should().StartWith("relay_pat_");
        _cli.Environment["RELAY_BROKER"] = broker.Address;
        _cli.Environment["RELAY_TOKEN"] = secret;

        var enrolled = await _cli.RunAsync("machines", "enroll", "flow-box", "--note", "scripted flow", "--json");
        enrolled.ExitCode.Should().Be(0, enrolled.Stderr);
        Json(enrolled).GetProperty("token").GetString().Should().StartWith("relay_enr_");
        Json(enrolled).GetProperty("machine_name").GetString().Should().Be("flow-box");

        var status = await _cli.RunAsync("status", "--json");
        status.ExitCode.Should().Be(0, status.Stderr);
        Json(status).GetProperty("caller").GetProperty("display_name").GetString().Should().Be("ci-flow");
        Json(status).GetProperty("caller_role").GetString().Should().Be("ROLE_ADMIN");

        var sessions = await _cli.RunAsync("sessions", "list", "--json");
        sessions.ExitCode.Should().Be(0, sessions.Stderr);
        Json(sessions).GetProperty("sessions").ValueKind.Should().Be(JsonValueKind.Array);
        sessions.Stderr.Should().BeEmpty();
    }

    [Fact]
    public async Task Status_DefaultOutput_PrintsAlignedFields()
    {
        var result = await AsAdminAsync("status");

        result.ExitCode.Should().Be(0, result.Stderr);
        result.Stdout.Should().Contain("Version:").And.MatchRegex(@"Role:\s+admin");
        result.Stderr.Should().BeEmpty();
    }

    [Fact]
    public async Task TokensList_TableAndJson_ShowTheSameTokens()
    {
        (await AsAdminAsync("tokens", "create", "list-me", "--role", "viewer")).ExitCode.Should().Be(0);

        var table = await AsAdminAsync("tokens", "list");
        var json = await AsAdminAsync("tokens", "list", "--json");

        table.ExitCode.Should().Be(0, table.Stderr);
        table.Stdout.Split('\n')[0].Should().MatchRegex(@"^ID\s+NAME\s+ROLE\s+PREFIX");
        table.Stdout.Should().MatchRegex(@"list-me\s+viewer");
        json.ExitCode.Should().Be(0, json.Stderr);
        json.Stderr.Should().BeEmpty();
        Json(json).GetProperty("tokens").EnumerateArray()
            .Should().Contain(t => t.GetProperty("name").GetString() == "list-me" && t.GetProperty("role").GetString() == "ROLE_VIEWER");
    }

    [Fact]
    public async Task TokensCreate_WithViewerToken_IsPermissionDeniedAndExits4()
    {
        var viewer = await AsAdminAsync("tokens", "create", "viewer-denied", "--role", "viewer", "--json");
        var secret = Json(viewer).GetProperty("secret").GetString()!;

        var result = await _cli.RunAsync("tokens", "create", "sneaky", "--role", "admin", "--broker", broker.Address, "--token", secret);

        result.ExitCode.Should().Be(4);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().StartWith("relayctl: permission denied");
    }

    [Fact]
    public async Task Status_InvalidToken_IsUnauthenticatedAndExits4()
    {
        var result = await _cli.RunAsync("status", "--broker", broker.Address, "--token", "relay_pat_not-a-real-token");

        result.ExitCode.Should().Be(4);
        result.Stderr.Should().StartWith("relayctl: not authenticated");
    }

    [Fact]
    public async Task TokensRevoke_ThenUseToken_Exits4()
    {
        var created = Json(await AsAdminAsync("tokens", "create", "short-lived", "--json"));

        var revoked = await AsAdminAsync("tokens", "revoke", created.GetProperty("token").GetProperty("token_id").GetString()!);
        var result = await _cli.RunAsync("status", "--broker", broker.Address, "--token", created.GetProperty("secret").GetString()!);

        revoked.ExitCode.Should().Be(0, revoked.Stderr);
        result.ExitCode.Should().Be(4);
    }

    [Theory]
    [InlineData("sessions", "show", "no-such-session")]
    [InlineData("machines", "show", "no-such-machine")]
    [InlineData("send", "no-such-session", "hello")]
    public async Task Lookup_UnknownName_IsNotFoundAndExits3(params string[] args)
    {
        var result = await AsAdminAsync(args);

        result.ExitCode.Should().Be(3, result.Stderr);
        result.Stdout.Should().BeEmpty();
        result.Stderr.Should().StartWith("relayctl: not found");
    }

    [Fact]
    public async Task Send_TextFromEmptyStdin_Exits2()
    {
        _cli.Environment["RELAY_BROKER"] = broker.Address;
        _cli.Environment["RELAY_TOKEN"] = broker.AdminToken;

        var result = await _cli.RunWithInputAsync("   ", "send", "some-session", "-");

        result.ExitCode.Should().Be(2);
        result.Stderr.Should().Contain("empty");
    }

    [Fact]
    public async Task Login_ValidToken_WritesPrivateProfileThatLaterCommandsUse()
    {
        var login = await _cli.RunAsync("login", "--broker", broker.Address, "--token", broker.AdminToken);

        login.ExitCode.Should().Be(0, login.Stderr);
        login.Stderr.Should().Contain("Logged in");
        File.GetUnixFileMode(_cli.ProfilePath).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (await File.ReadAllTextAsync(_cli.ProfilePath)).Should().Contain(broker.Address);

        var status = await _cli.RunAsync("status", "--json");

        status.ExitCode.Should().Be(0, status.Stderr);
        Json(status).GetProperty("caller_role").GetString().Should().Be("ROLE_ADMIN");
    }

    [Fact]
    public async Task Login_InvalidToken_WritesNoProfileAndExits4()
    {
        var login = await _cli.RunAsync("login", "--broker", broker.Address, "--token", "relay_pat_wrong");

        login.ExitCode.Should().Be(4);
        File.Exists(_cli.ProfilePath).Should().BeFalse();
    }

    [Fact]
    public async Task Audit_AfterTokenCreate_ListsTheAction()
    {
        (await AsAdminAsync("tokens", "create", "audited", "--role", "viewer")).ExitCode.Should().Be(0);

        var table = await AsAdminAsync("audit", "--action", "token.");
        var json = await AsAdminAsync("audit", "--action", "token.create", "--since", "1h", "--json");

        table.ExitCode.Should().Be(0, table.Stderr);
        table.Stdout.Should().Contain("token.create");
        Json(json).GetProperty("events").EnumerateArray().Should().Contain(e => e.GetProperty("action").GetString() == "token.create");
    }

    public void Dispose() => _cli.Dispose();

    private Task<CliResult> AsAdminAsync(params string[] args) =>
        _cli.RunAsync([.. args, "--broker", broker.Address, "--token", broker.AdminToken]);

    private static JsonElement Json(CliResult result)
    {
        using var document = JsonDocument.Parse(result.Stdout);
        return document.RootElement.Clone();
    }
}
