using Relay.Cli;
using Relay.Cli.Internal;

// relayctl: the admin CLI for people and scripts. The command tree lives in RelayCtl.BuildRootCommand so tests drive
// it with their own writers, environment and config directory.
var context = CliContext.FromProcess();
using var interrupts = Interrupts.Register();
var root = RelayCtl.BuildRootCommand(context);
return await RelayCtl.InvokeAsync(root, args, context, interrupts.Token);
