namespace Relay.Agent.Tests.Launch;

/// <summary>How the fake claude behaves.</summary>
internal enum FakeClaudeMode
{
    /// <summary>Shows the development-channels confirmation, waits for Enter, shows the main screen, exits on /exit.</summary>
    Dialog,

    /// <summary>Like <see cref="Dialog"/>, but keys that arrive in the dialog's first 600 ms are thrown away.</summary>
    DialogRefusingEarlyKeys,

    /// <summary>Prints an error and exits 3 at once.</summary>
    ExitAtOnce,

    /// <summary>Shows the custom API key question and waits.</summary>
    ApiKeyQuestion,

    /// <summary>Shows nothing and waits.</summary>
    Silent,

    /// <summary>Like <see cref="Dialog"/>, but /exit does nothing; SIGTERM ends it.</summary>
    IgnoresExit,

    /// <summary>Like <see cref="Dialog"/>, but neither /exit nor SIGTERM end it.</summary>
    Stubborn,
}

/// <summary>
/// A stand-in for the <c>claude</c> program: a bash script that records its argv, environment and working directory,
/// then behaves like the real one's start-up as far as the launcher can see (the texts are those of Claude Code
/// 2.1.x: the "WARNING: Loading development channels" dialog and its "I am using this for local development" choice).
/// </summary>
internal sealed class FakeClaude
{
    public FakeClaude(string directory, FakeClaudeMode mode)
    {
        BinDirectory = System.IO.Path.Combine(directory, "bin");
        RecordDirectory = System.IO.Path.Combine(directory, "record");
        Directory.CreateDirectory(BinDirectory);
        Directory.CreateDirectory(RecordDirectory);
        Path = System.IO.Path.Combine(BinDirectory, "claude");
        File.WriteAllText(Path, Script(mode));
        File.SetUnixFileMode(Path, (UnixFileMode)0b111_101_101);
    }

    public string BinDirectory { get; }

    public string RecordDirectory { get; }

    public string Path { get; }

    /// <summary>The argv the fake was started with (empty until it ran).</summary>
    public IReadOnlyList<string> Arguments => ReadRecord("argv").Split('\0', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Its environment, NAME=value per entry.</summary>
    public IReadOnlyList<string> Environment => ReadRecord("env").Split('\0', StringSplitOptions.RemoveEmptyEntries);

    public string WorkingDirectory => ReadRecord("cwd").Trim();

    /// <summary>What happened, one word per line: accepted, got:&lt;line&gt;, exit, term.</summary>
    public IReadOnlyList<string> Events => ReadRecord("events").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private string ReadRecord(string name)
    {
        var file = System.IO.Path.Combine(RecordDirectory, name);
        return File.Exists(file) ? File.ReadAllText(file) : string.Empty;
    }

    private string Script(FakeClaudeMode mode)
    {
        var record = RecordDirectory;
        var header = $$"""
            #!/bin/bash
            REC='{{record}}'
            printf '%s\0' "$@" > "$REC/argv"
            env -0 > "$REC/env"
            pwd > "$REC/cwd"
            touch "$REC/events"
            """;
        const string dialog = """
            printf '\n  WARNING: Loading development channels\n\n'
            printf '  --dangerously-load-development-channels is for local channel development only. Do not use this option to run channels you have downloaded off the internet.\n'
            printf '  Please use --channels to run a list of approved channels.\n\n'
            printf '  Channels: server:relay\n\n'
            printf '  \xe2\x9d\xaf 1. I am using this for local development\n'
            printf '    2. Exit\n\n'
            printf '  Enter to confirm \xc2\xb7 Esc to cancel\n'
            """;
        const string refuseEarly = """
            sleep 0.6
            # Throw away whatever was typed while the dialog was arming.
            while IFS= read -rs -t 0.05 -n 1 _; do :; done
            """;
        const string waitForEnter = """
            while true; do
              IFS= read -rs -n 1 key || exit 1
              if [ -z "$key" ]; then break; fi
            done
            echo accepted >> "$REC/events"
            clear
            printf ' Claude Code v9.9.9 (fake)\n ~/work\n\n> \n  ? for shortcuts\n'
            """;
        const string loop = """
            while true; do
              IFS= read -r line; rc=$?
              # Above 128: interrupted by a trapped signal; keep waiting. Otherwise non-zero: end of input.
              if [ $rc -gt 128 ]; then continue; fi
              if [ $rc -ne 0 ]; then exit 0; fi
              echo "got:$line" >> "$REC/events"
              case "$line" in
                */exit*) EXIT_ACTION ;;
              esac
            done
            """;
        return mode switch
        {
            // The pause before exiting: tmux can mark a pane dead before it has read what its child wrote last, and the
            // output is then lost (seen once in many CI runs); a real Claude that fails at start-up takes longer than that.
            FakeClaudeMode.ExitAtOnce => header + "\necho 'fake claude: something is badly wrong' >&2\nsleep 0.3\nexit 3\n",
            FakeClaudeMode.ApiKeyQuestion => header + "\nprintf '  Detected a custom API key in your environment\\n\\n  Do you want to use this API key?\\n\\n    Yes\\n  > No (recommended)\\n'\nexec sleep 600\n",
            FakeClaudeMode.Silent => header + "\nexec sleep 600\n",
            FakeClaudeMode.Dialog => header + "\ntrap 'echo term >> \"$REC/events\"; exit 143' TERM\n" + dialog + "\n" + waitForEnter + "\n" + loop.Replace("EXIT_ACTION", "echo exit >> \"$REC/events\"; exit 0", StringComparison.Ordinal),
            FakeClaudeMode.DialogRefusingEarlyKeys => header + "\n" + dialog + "\n" + refuseEarly + "\n" + waitForEnter + "\n" + loop.Replace("EXIT_ACTION", "exit 0", StringComparison.Ordinal),
            // `read` is restarted after the trap, so the loop keeps the process waiting on input.
            FakeClaudeMode.IgnoresExit => header + "\ntrap 'echo term >> \"$REC/events\"; exit 143' TERM\n" + dialog + "\n" + waitForEnter + "\n" + loop.Replace("EXIT_ACTION", "echo ignored-exit >> \"$REC/events\"", StringComparison.Ordinal),
            FakeClaudeMode.Stubborn => header + "\ntrap 'echo ignored-term >> \"$REC/events\"' TERM\n" + dialog + "\n" + waitForEnter + "\n" + loop.Replace("EXIT_ACTION", "echo ignored-exit >> \"$REC/events\"", StringComparison.Ordinal),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };
    }
}
