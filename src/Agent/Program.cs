using Relay.Agent.Hooks;
using Relay.Agent.Hosting;

// Claude Code waits for `relay-agent hook` on every session start: it runs before the command line is even parsed, from
// a synchronous entry point (an async Main's state machine is framework generic code over our type, which the JIT compiles).
return args is ["hook"] ? HookCommand.RunOnConsole() : AgentCommandLine.Invoke(args);
