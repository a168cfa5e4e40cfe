using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>briefings set|get|list|delete and policy show|set.</summary>
[Collection(BrokerCollection.Name)]
public sealed class BriefingsPolicyTests(BrokerProcess broker) : BrokerTest(broker)
{
    [Fact]
    public async Task Briefings_SetFromArgumentFileAndStdin_GetListDelete()
    {
        var name = Unique("reviewer");
        var file = Cli.FilePath("briefing.md");
        await File.WriteAllTextAsync(file, "From a file.\nSecond line.\n", Token);

        var fromArgument = await OkAsync("briefings", "set", name, "You review pull requests.");
        var afterArgument = await OkAsync("briefings", "get", name);
        await OkAsync("briefings", "set", name, "--file", file);
        var afterFile = await OkAsync("briefings", "get", name);
        var fromStdin = await Cli.RunWithInputAsync("From stdin.", "briefings", "set", name, "-", "--json");
        var getJson = await OkAsync("briefings", "get", name, "--json");
        var list = await OkAsync("briefings", "list");
        var listJson = await OkAsync("briefings", "list", "--json");
        var deleted = await OkAsync("briefings", "delete", name);
        var gone = await Cli.RunAsync("briefings", "get", name);

        fromArgument.Stderr.Should().Contain("Set the briefing for '" + name + "'");
        afterArgument.Stdout.Should().Be("You review pull requests.\n");
        afterArgument.Stderr.Should().Contain("Briefing '" + name + "', last set ");
        afterFile.Stdout.Should().Be("From a file.\nSecond line.\n");
        fromStdin.ExitCode.Should().Be(0, fromStdin.Stderr);
        Json(fromStdin).GetProperty("text").GetString().Should().Be("From stdin.");
        Json(getJson).GetProperty("updated_by").GetProperty("display_name").GetString().Should().Be("admin");
        list.Stdout.Should().MatchRegex(name + @"\s+\d{4}-.*From stdin\.");
        Json(listJson).GetProperty("briefings").EnumerateArray().Should().Contain(b => b.GetProperty("name").GetString() == name);
        deleted.Stderr.Should().Contain("Deleted");
        gone.ExitCode.Should().Be(ExitCodes.NotFound);
    }

    [Fact]
    public async Task BriefingsSet_MissingFile_Exits2NamingTheFile()
    {
        var result = await Cli.RunAsync("briefings", "set", "x", "--file", "/nonexistent/briefing.md");

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stderr.Should().Contain("/nonexistent/briefing.md");
    }

    [Fact]
    public async Task Policy_ShowJsonEditSetShow_RoundTripsAndStaleEtagIsRefused()
    {
        var before = await OkAsync("policy", "show", "--json");
        var machine = Unique("prod");
        var edited = "{\"etag\":\"" + Json(before).GetProperty("etag").GetString() + "\",\"rules\":[{\"description\":\"no launches on " + machine
            + "\",\"action\":\"POLICY_ACTION_LAUNCH\",\"target\":{\"machine\":\"" + machine + "\"},\"effect\":\"POLICY_EFFECT_DENY\"}]}";
        var path = Cli.FilePath("policy.json");
        await File.WriteAllTextAsync(path, edited, Token);

        var set = await OkAsync("policy", "set", path, "--json");
        var table = await OkAsync("policy", "show");
        var stale = await Cli.RunAsync("policy", "set", path);
        var forced = await Cli.RunWithInputAsync(edited, "policy", "set", "-", "--force");
        var cleared = await Cli.RunWithInputAsync("{\"rules\":[]}", "policy", "set", "-", "--force");

        Json(set).GetProperty("rules")[0].GetProperty("effect").GetString().Should().Be("POLICY_EFFECT_DENY");
        Json(set).GetProperty("etag").GetString().Should().NotBe(Json(before).GetProperty("etag").GetString());
        table.Stdout.Should().MatchRegex(@"^#\s+ACTION\s+EFFECT\s+SUBJECT\s+TARGET\s+DESCRIPTION")
            .And.MatchRegex(@"1\s+launch\s+deny\s+anyone\s+machine=" + machine + @"\s+no launches on " + machine);
        table.Stderr.Should().Contain("Etag ");
        stale.ExitCode.Should().Be(ExitCodes.Error, stale.Stderr);
        stale.Stderr.Should().StartWith("relayctl: refused: ");
        forced.ExitCode.Should().Be(0, forced.Stderr);
        cleared.ExitCode.Should().Be(0, cleared.Stderr);
    }

    [Fact]
    public async Task PolicySet_NotJson_Exits2()
    {
        var result = await Cli.RunWithInputAsync("rules: none", "policy", "set", "-");

        result.ExitCode.Should().Be(ExitCodes.Usage);
        result.Stderr.Should().StartWith("relayctl: stdin is not a policy").And.Contain("policy show --json");
    }

    [Fact]
    public async Task PolicySet_OperatorToken_PermissionDeniedExits4()
    {
        Cli.Environment["RELAY_TOKEN"] = await TokenAsync("operator");

        var result = await Cli.RunWithInputAsync("{\"rules\":[]}", "policy", "set", "-", "--force");

        result.ExitCode.Should().Be(ExitCodes.AccessDenied, result.Stderr);
    }
}
