using System.Text.Json.Nodes;
using Relay.Agent.Install;

namespace Relay.Agent.Tests.Install;

/// <summary>The installer round trip on a temporary HOME.</summary>
public sealed class ClaudeInstallerTests
{
    // As Claude Code writes its files: JSON.stringify(value, null, 2), no trailing newline.
    private const string UserSettings = """
        {
          "model": "opus",
          "permissions": {
            "allow": [
              "Bash(git status)"
            ]
          },
          "hooks": {
            "PreToolUse": [
              {
                "matcher": "Bash",
                "hooks": [
                  {
                    "type": "command",
                    "command": "~/bin/guard.sh",
                    "timeout": 30
                  }
                ]
              }
            ],
            "Stop": [
              {
                "hooks": [
                  {
                    "type": "http",
                    "url": "http://localhost:9000/stop",
                    "headers": {
                      "Authorization": "Bearer x"
                    }
                  }
                ]
              }
            ]
          },
          "statusLine": {
            "type": "command",
            "command": "echo é <&>"
          }
        }
        """;

    private const string UserState = """
        {
          "numStartups": 12,
          "hasCompletedOnboarding": true,
          "mcpServers": {
            "github": {
              "type": "stdio",
              "command": "npx",
              "args": [
                "-y",
                "@modelcontextprotocol/server-github"
              ],
              "env": {}
            }
          },
          "projects": {
            "/home/u/repo": {
              "hasTrustDialogAccepted": true,
              "allowedTools": []
            }
          },
          "tipsHistory": {
            "x": 1.50
          }
        }
        """;

    [Fact]
    public void Install_Twice_SecondRunChangesNothing()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.WriteAllText(bed.StateFile, UserState);

        bed.Install().ExitCode.Should().Be(0);
        var afterFirst = bed.Snapshot();
        var second = bed.Install(at: new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero));

        second.ExitCode.Should().Be(0);
        second.Output.Should().Contain("settings.json: already up to date").And.Contain(".claude.json: already up to date");
        bed.Snapshot().Should().BeEquivalentTo(afterFirst, "a second install writes nothing, not even a backup");
    }

    [Fact]
    public void Install_KeepsTheUsersSettingsAndForeignHooksOnTheSameEvents()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.WriteAllText(bed.StateFile, UserState);
        var original = JsonNode.Parse(UserSettings)!.AsObject();

        bed.Install().ExitCode.Should().Be(0);

        var settings = JsonNode.Parse(File.ReadAllText(bed.SettingsFile))!.AsObject();
        settings.Select(p => p.Key).Should().Equal("model", "permissions", "hooks", "statusLine");
        JsonNode.DeepEquals(settings["permissions"], original["permissions"]).Should().BeTrue();
        JsonNode.DeepEquals(settings["statusLine"], original["statusLine"]).Should().BeTrue();
        File.ReadAllText(bed.SettingsFile).Should().Contain("\"echo é <&>\"", "text is written as Claude Code writes it, unescaped");
        var preToolUse = settings["hooks"]!["PreToolUse"]!.AsArray();
        preToolUse.Should().HaveCount(2);
        JsonNode.DeepEquals(preToolUse[0], original["hooks"]!["PreToolUse"]![0]).Should().BeTrue("the user's group stays first and unchanged");
        var stop = settings["hooks"]!["Stop"]!.AsArray();
        stop.Should().HaveCount(2);
        JsonNode.DeepEquals(stop[0], original["hooks"]!["Stop"]![0]).Should().BeTrue();

        var state = JsonNode.Parse(File.ReadAllText(bed.StateFile))!.AsObject();
        state.Select(p => p.Key).Should().Equal("numStartups", "hasCompletedOnboarding", "mcpServers", "projects", "tipsHistory");
        state["mcpServers"]!.AsObject().Select(p => p.Key).Should().Equal("github", "relay");
        File.ReadAllText(bed.StateFile).Should().Contain("\"x\": 1.50", "numbers keep their exact text");
    }

    [Fact]
    public void Install_WritesTheDocumentedEntries()
    {
        using var bed = new InstallerTestBed();

        bed.Install().ExitCode.Should().Be(0);

        var hooks = JsonNode.Parse(File.ReadAllText(bed.SettingsFile))!["hooks"]!.AsObject();
        hooks.Select(p => p.Key).Should().BeEquivalentTo(ClaudeHookEvents.Http.Append("SessionStart"));
        hooks.Select(p => p.Key).Should().NotContain(ClaudeHookEvents.Skipped.Keys);
        hooks["PreToolUse"]!.ToJsonString().Should().Be(
            """[{"hooks":[{"type":"http","url":"http://127.0.0.1:7471/hooks","headers":{"X-Relay-Hook-Secret":"relay_hook_0123456789abcdef"},"timeout":10}]}]""");
        hooks["PermissionRequest"]![0]!["hooks"]![0]!["timeout"]!.GetValue<int>().Should().Be(60);
        hooks["SessionStart"]!.ToJsonString().Should().Be(
            "[{\"hooks\":[{\"type\":\"command\",\"command\":\"" + bed.AgentPath + "\",\"args\":[\"hook\"],\"timeout\":5}]}]");
        JsonNode.Parse(File.ReadAllText(bed.StateFile))!["mcpServers"]!["relay"]!.ToJsonString().Should().Be(
            "{\"type\":\"stdio\",\"command\":\"" + bed.ChannelPath + "\",\"args\":[],\"env\":{}}");
    }

    [Fact]
    public void Uninstall_AfterInstall_LeavesBothFilesByteForByteAsBefore()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.WriteAllText(bed.StateFile, UserState);

        bed.Install().ExitCode.Should().Be(0);
        var uninstall = bed.Uninstall(at: new DateTimeOffset(2026, 11, 21, 11, 0, 0, TimeSpan.Zero));

        uninstall.ExitCode.Should().Be(0);
        uninstall.Output.Should().Contain("removed Relay's hooks").And.Contain("removed the MCP server 'relay'");
        File.ReadAllText(bed.SettingsFile).Should().Be(UserSettings);
        File.ReadAllText(bed.StateFile).Should().Be(UserState);
    }

    [Fact]
    public void Uninstall_NothingOfRelaysEverWritten_CreatesNoFiles()
    {
        using var bed = new InstallerTestBed();

        var result = bed.Uninstall();

        result.ExitCode.Should().Be(0);
        bed.Snapshot().Should().BeEmpty();
    }

    [Fact]
    public void Uninstall_OtherFormatting_LeavesTheContentEqual()
    {
        using var bed = new InstallerTestBed();
        var fourSpaces = JsonNode.Parse(UserSettings)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true, IndentSize = 4 }) + "\n";
        File.WriteAllText(bed.SettingsFile, fourSpaces);

        var install = bed.Install();
        bed.Uninstall().ExitCode.Should().Be(0);

        install.Output.Should().Contain("rewritten with 2-space indentation");
        JsonNode.DeepEquals(JsonNode.Parse(File.ReadAllText(bed.SettingsFile)), JsonNode.Parse(fourSpaces)).Should().BeTrue();
        File.ReadAllText(bed.SettingsFile).Should().EndWith("}\n", "the trailing newline is kept");
    }

    [Fact]
    public void Install_RefreshedSecretAndPort_ReplacesRelaysEntriesOnly()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        bed.Install(bed.Plan("old-secret", 7000)).ExitCode.Should().Be(0);

        bed.Install(bed.Plan("new-secret", 7471)).ExitCode.Should().Be(0);

        var text = File.ReadAllText(bed.SettingsFile);
        text.Should().NotContain("old-secret").And.NotContain(":7000/");
        var stop = JsonNode.Parse(text)!["hooks"]!["Stop"]!.AsArray();
        stop.Should().HaveCount(2);
        stop[1]!["hooks"]![0]!["headers"]!["X-Relay-Hook-Secret"]!.GetValue<string>().Should().Be("new-secret");
        bed.Uninstall().ExitCode.Should().Be(0);
        File.ReadAllText(bed.SettingsFile).Should().Be(UserSettings);
    }

    [Fact]
    public void Install_DryRun_WritesNothingAndShowsTheChangeWithoutTheSecret()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.WriteAllText(bed.StateFile, UserState);
        var before = bed.Snapshot();

        var result = bed.Install(dryRun: true);

        result.ExitCode.Should().Be(0);
        bed.Snapshot().Should().BeEquivalentTo(before);
        result.Output.Should().Contain("--- ~/.claude/settings.json").And.Contain("+++ ~/.claude/settings.json (new)")
            .And.Contain("+            \"type\": \"http\",")
            .And.Contain("\"X-Relay-Hook-Secret\": \"<hook secret>\"")
            .And.Contain("+    \"relay\": {")
            .And.Contain("Dry run: nothing was written.");
        result.Output.Should().NotContain("relay_hook_0123456789abcdef");
        result.Output.Split('\n').Should().NotContain(l => l.StartsWith('-') && !l.StartsWith("---", StringComparison.Ordinal), "install only adds lines");
    }

    [Fact]
    public void Uninstall_DryRun_WritesNothing()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        bed.Install().ExitCode.Should().Be(0);
        var before = bed.Snapshot();

        var result = bed.Uninstall(dryRun: true);

        result.Output.Should().Contain("-            \"type\": \"http\",");
        bed.Snapshot().Should().BeEquivalentTo(before);
    }

    [Theory]
    [InlineData("{ \"model\": \"opus\", }", "line 1")]
    [InlineData("{\n  \"model\": \"opus\"\n  \"x\": 1\n}", "line 3")]
    [InlineData("[1, 2]", "does not hold a JSON object")]
    [InlineData("{\"hooks\": []}", "\"hooks\" is not an object")]
    [InlineData("{\"hooks\": {\"Stop\": {}}}", "\"hooks.Stop\" is not a list")]
    public void Install_MalformedSettings_FailsWithExit1AndWritesNothing(string settings, string expected)
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, settings);
        File.WriteAllText(bed.StateFile, UserState);
        var before = bed.Snapshot();

        var result = bed.Install();

        result.ExitCode.Should().Be(1);
        result.Error.Should().Contain("~/.claude/settings.json").And.Contain(expected);
        bed.Snapshot().Should().BeEquivalentTo(before, "a malformed file stops everything, the valid one included");
    }

    [Fact]
    public void Install_MalformedState_FailsAndLeavesSettingsUntouched()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.WriteAllText(bed.StateFile, "{\"numStartups\": 1");
        var before = bed.Snapshot();

        var result = bed.Install();

        result.ExitCode.Should().Be(1);
        result.Error.Should().Contain("~/.claude.json is not valid JSON");
        bed.Snapshot().Should().BeEquivalentTo(before);
    }

    [Fact]
    public void Install_ForeignMcpServerNamedRelay_RefusesAndWritesNothing()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.StateFile, """{"mcpServers": {"relay": {"type": "stdio", "command": "/usr/bin/other-relay"}}}""");
        var before = bed.Snapshot();

        var result = bed.Install();

        result.ExitCode.Should().Be(1);
        result.Error.Should().Contain("already has an MCP server named 'relay'").And.Contain("other-relay");
        bed.Snapshot().Should().BeEquivalentTo(before);
    }

    [Fact]
    public void Install_NewFiles_AreCreated0600()
    {
        using var bed = new InstallerTestBed();

        var result = bed.Install();

        result.Output.Should().Contain("Created ~/.claude/settings.json").And.Contain("Created ~/.claude.json");
        File.GetUnixFileMode(bed.SettingsFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.GetUnixFileMode(bed.StateFile).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        bed.Snapshot().Keys.Should().BeEquivalentTo([".claude/settings.json", ".claude.json"], "no backup of a file that did not exist");
    }

    [Fact]
    public void Install_WorldReadableSettings_TightensTo0600AndSaysSo_KeepsTheStateFilesMode()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.SetUnixFileMode(bed.SettingsFile, (UnixFileMode)0b110_100_100);
        File.WriteAllText(bed.StateFile, UserState);
        File.SetUnixFileMode(bed.StateFile, (UnixFileMode)0b110_100_000);

        var result = bed.Install();

        result.Output.Should().Contain("mode tightened from 0644 to 0600");
        File.GetUnixFileMode(bed.SettingsFile).Should().Be((UnixFileMode)0b110_000_000);
        File.GetUnixFileMode(bed.StateFile).Should().Be((UnixFileMode)0b110_100_000);
    }

    [Fact]
    public void Install_ExistingFiles_AreBackedUpBeforeTheFirstChange()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, UserSettings);
        File.WriteAllText(bed.StateFile, UserState);

        var result = bed.Install();

        var backup = bed.SettingsFile + ".relay-backup-20261121T100000Z";
        result.Output.Should().Contain("backup: " + backup);
        File.ReadAllText(backup).Should().Be(UserSettings);
        File.ReadAllText(bed.StateFile + ".relay-backup-20261121T100000Z").Should().Be(UserState);
        File.GetUnixFileMode(backup).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public void Install_SettingsIsASymlink_WritesThroughItAndKeepsTheLink()
    {
        using var bed = new InstallerTestBed();
        var dotfiles = Path.Combine(bed.Home, "dotfiles");
        Directory.CreateDirectory(dotfiles);
        var target = Path.Combine(dotfiles, "claude-settings.json");
        File.WriteAllText(target, UserSettings);
        File.CreateSymbolicLink(bed.SettingsFile, target);

        bed.Install().ExitCode.Should().Be(0);

        new FileInfo(bed.SettingsFile).LinkTarget.Should().Be(target);
        File.ReadAllText(target).Should().Contain("X-Relay-Hook-Secret");
    }

    [Fact]
    public void Install_UserCopiedARelayHookIntoTheirOwnGroup_TakesItOutAndLeavesTheirHandler()
    {
        using var bed = new InstallerTestBed();
        File.WriteAllText(bed.SettingsFile, """
            {"hooks": {"PostToolUse": [{"matcher": "Edit", "hooks": [
              {"type": "command", "command": "lint"},
              {"type": "http", "url": "http://127.0.0.1:7000/hooks", "headers": {"X-Relay-Hook-Secret": "stale"}}]}]}}
            """);

        bed.Install().ExitCode.Should().Be(0);

        var groups = JsonNode.Parse(File.ReadAllText(bed.SettingsFile))!["hooks"]!["PostToolUse"]!.AsArray();
        groups.Should().HaveCount(2);
        groups[0]!.ToJsonString().Should().Be("""{"matcher":"Edit","hooks":[{"type":"command","command":"lint"}]}""");
        File.ReadAllText(bed.SettingsFile).Should().NotContain("stale");
    }
}
