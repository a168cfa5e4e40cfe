using Relay.Cli;

// relayctl: the admin CLI for people and scripts. The command tree lives in RelayCtl.BuildRootCommand so tests drive
// it with their own writers, environment and config directory.
var context = CliContext.FromProcess();
var root = RelayCtl.BuildRootCommand(context);
return await RelayCtl.InvokeAsync(root, args, context);
