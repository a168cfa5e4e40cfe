using System.CommandLine;
using Relay.Cli.Internal;

namespace Relay.Cli.Commands;

/// <summary>
/// <c>relayctl completion bash|zsh|fish</c>: a script that asks relayctl itself for completions through
/// System.CommandLine's <c>[suggest:&lt;position&gt;] "&lt;command line&gt;"</c> directive (the protocol dotnet-suggest
/// uses), so completions always match the installed version, option values included.
/// </summary>
internal static class CompletionCommand
{
    // Each script rewrites the command word to "relayctl" (the root command's name, which the parser skips) and cuts the
    // line at the cursor, so "./bin/relayctl ses<TAB>" completes like "relayctl ses".
    private const string Bash = """
        # relayctl completion for bash. Load it with: source <(relayctl completion bash)
        _relayctl_complete()
        {
            local cur="${COMP_WORDS[COMP_CWORD]}" IFS=$'\n'
            local line="${COMP_LINE:0:COMP_POINT}"
            line="relayctl${line#"${COMP_WORDS[0]}"}"
            local candidates
            read -d '' -ra candidates < <("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null)
            read -d '' -ra COMPREPLY < <(compgen -W "${candidates[*]:-}" -- "$cur")
        }
        complete -o default -F _relayctl_complete relayctl

        """;

    private const string Zsh = """
        #compdef relayctl
        # relayctl completion for zsh. Load it with: source <(relayctl completion zsh)
        # or save it as _relayctl in a directory of $fpath.
        _relayctl_complete()
        {
            local line="relayctl ${(j: :)${(@)words[2,CURRENT]}}"
            local -a candidates
            candidates=("${(@f)$("${words[1]}" "[suggest:${#line}]" "$line" 2>/dev/null)}")
            compadd -a candidates
        }
        compdef _relayctl_complete relayctl

        """;

    private const string Fish = """
        # relayctl completion for fish. Load it with: relayctl completion fish | source
        # or save it as ~/.config/fish/completions/relayctl.fish.
        function __relayctl_complete
            set -l tokens (commandline -opc)
            set -l exe $tokens[1]
            set -e tokens[1]
            set -l current (commandline -ct)
            set -l line (string join ' ' relayctl $tokens)" $current"
            $exe "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null
        end
        complete -c relayctl -f -a '(__relayctl_complete)'

        """;

    public static readonly IReadOnlyDictionary<string, string> Scripts = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["bash"] = Bash,
        ["zsh"] = Zsh,
        ["fish"] = Fish,
    };

    public static Command Create(CliContext context)
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or fish." };
        shell.AcceptOnlyFromAmong([.. Scripts.Keys]);
        var command = new RelayCommand("completion",
            "Print a shell completion script for commands, options and their values.",
            "source <(relayctl completion bash)",
            "relayctl completion bash > /etc/bash_completion.d/relayctl",
            "relayctl completion zsh > \"${fpath[1]}/_relayctl\"",
            "relayctl completion fish > ~/.config/fish/completions/relayctl.fish")
        {
            shell,
        };
        command.SetAction(parseResult =>
        {
            context.Output.Write(Scripts[parseResult.GetRequiredValue(shell)].ReplaceLineEndings("\n"));
            return ExitCodes.Success;
        });
        return command;
    }
}
