// relay-agent is a Linux daemon: Unix sockets with peer credentials, /proc for process tracking, tmux, file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
