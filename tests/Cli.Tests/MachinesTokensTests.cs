using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>The first slice's machine and token commands in the output formats BrokerTests does not cover.</summary>
[Collection(BrokerCollection.Name)]
public sealed class MachinesTokensTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task MachinesShowAndRevoke_ConnectedMachine_TableAndJson()
    {
        var name = Unique("showme");
        var (agent, _, sessionId) = await SessionAsync(name);
        var other = await AgentAsync();

        var table = await OkAsync("machines", "show", agent.MachineName);
        var json = await OkAsync("machines", "show", agent.MachineId, "--json");
        var revoked = await OkAsync("machines", "revoke", agent.MachineName, "--reason", "test");
        var revokedJson = await OkAsync("machines", "revoke", other.MachineName, "--json");
        var after = await OkAsync("machines", "show", agent.MachineName, "--json");

        table.Stdout.Should().MatchRegex(@"Online:\s+yes").And.MatchRegex(@"Host:\s+sim-host").And.MatchRegex(sessionId + @"\s+" + name);
        Json(json).GetProperty("machine").GetProperty("online").GetBoolean().Should().BeTrue();
        Json(json).GetProperty("sessions").EnumerateArray().Should().ContainSingle().Which.GetProperty("session_id").GetString().Should().Be(sessionId);
        revoked.Stdout.Should().BeEmpty();
        revoked.Stderr.Should().Contain("Revoked machine " + agent.MachineName);
        Json(revokedJson).GetProperty("name").GetString().Should().Be(other.MachineName);
        Json(revokedJson).GetProperty("revoked_at").GetString().Should().NotBeNullOrEmpty();
        Json(after).GetProperty("machine").GetProperty("revoked_at").GetString().Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task MachinesEnroll_Table_PrintsOnlyTheTokenOnStdoutAndTheAgentCommandOnStderr()
    {
        var result = await OkAsync("machines", "enroll", Unique("table"));

        result.Stdout.Should().MatchRegex("^relay_enr_\\S+\n$");
        result.Stderr.Should().Contain("relay-agent enroll --broker " + Broker.Address + " --token " + result.Stdout.Trim());
    }

    [Fact]
    public async Task TokensCreateTableThenRevokeJson_SecretOnStdoutThenRevokedToken()
    {
        var name = Unique("ci");

        var created = await OkAsync("tokens", "create", name, "--role", "operator", "--expires-in", "1d");
        var id = Json(await OkAsync("tokens", "list", "--json")).GetProperty("tokens").EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == name).GetProperty("token_id").GetString()!;
        var revoked = await OkAsync("tokens", "revoke", id, "--json");

        created.Stdout.Should().MatchRegex("^relay_pat_\\S+\n$");
        created.Stderr.Should().Contain("'" + name + "' (operator)").And.Contain("shown only once");
        Json(revoked).GetProperty("token_id").GetString().Should().Be(id);
        Json(revoked).GetProperty("revoked_at").GetString().Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task Login_Json_PrintsServerInfoOnStdoutAndNoteOnStderr()
    {
        var result = await Cli.RunAsync("login", "--broker", Broker.Address, "--token", Broker.AdminToken, "--profile", "ci", "--json");

        result.ExitCode.Should().Be(0, result.Stderr);
        Json(result).GetProperty("caller").GetProperty("display_name").GetString().Should().Be("admin");
        result.Stderr.Should().Contain("saved profile 'ci'");
    }
}
