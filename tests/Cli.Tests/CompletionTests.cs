using System.Diagnostics;
using Relay.Broker.Tests.Infrastructure;
using Relay.Cli.Tests.Infrastructure;

namespace Relay.Cli.Tests;

/// <summary>relayctl completion: the bash script is run by a real bash against the real relayctl.</summary>
public sealed class CompletionTests : IDisposable
{
    private readonly CliHarness _cli = new();
    private readonly TempDirectory _bin = new("relay-cli-bin-");

    [Theory]
    [InlineData("bash", "complete -o default -F _relayctl_complete relayctl")]
    [InlineData("zsh", "compdef _relayctl_complete relayctl")]
    [InlineData("fish", "complete -c relayctl -f -a '(__relayctl_complete)'")]
    public async Task Completion_Shell_PrintsScriptThatCallsTheSuggestDirective(string shell, string registration)
    {
        var result = await _cli.RunAsync("completion", shell);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().Contain(registration).And.Contain("[suggest:").And.NotContain("\r");
        result.Stderr.Should().BeEmpty();
    }

    [Theory]
    [InlineData("relayctl ses", "sessions")]
    [InlineData("relayctl sessions h", "history")]
    [InlineData("relayctl approvals d", "deny")]
    [InlineData("relayctl briefings ", "--broker --ca-cert --help --json --profile --token -? -h /? /h delete get list set")]
    [InlineData("relayctl watch --ki", "--kind")]
    [InlineData("relayctl watch --kind session-e", "session-ended")]
    [InlineData("relayctl tokens create alice --role o", "operator")]
    [InlineData("relayctl completion f", "fish")]
    public async Task BashCompletion_RealBashAndRelayctl_CompletesCommandsOptionsAndValues(string line, string expected)
    {
        var words = await CompleteAsync(line);

        words.Should().BeEquivalentTo(expected.Split(' '));
    }

    public void Dispose()
    {
        _cli.Dispose();
        _bin.Dispose();
    }

    /// <summary>What bash offers for <paramref name="line"/> with the cursor at its end: COMP_* set as bash sets them.</summary>
    private async Task<string[]> CompleteAsync(string line)
    {
        Directory.CreateDirectory(_bin.Path);
        var relayctl = Path.Combine(_bin.Path, "relayctl");
        await File.WriteAllTextAsync(relayctl, "#!/bin/sh\nexec dotnet '" + Path.Combine(AppContext.BaseDirectory, "relayctl.dll") + "' \"$@\"\n");
        File.SetUnixFileMode(relayctl, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = (await _cli.RunAsync("completion", "bash")).Stdout;

        var start = new ProcessStartInfo("/usr/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script + """
            read -ra COMP_WORDS <<< "$LINE"
            [[ "$LINE" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="$LINE"
            COMP_POINT=${#LINE}
            _relayctl_complete
            printf '%s\n' "${COMPREPLY[@]}"
            """);
        start.Environment["LINE"] = line;
        start.Environment["PATH"] = _bin.Path + ":" + Environment.GetEnvironmentVariable("PATH");
        using var process = Process.Start(start)!;
        using var timeout = TestTimeout.Start();
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        (await stderr).Should().BeEmpty();
        return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
