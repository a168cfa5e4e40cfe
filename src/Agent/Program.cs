using Relay.Agent.Hooks;
using Relay.Agent.Hosting;

// Claude Code waits for `relay-agent hook` on every session start: it runs before the command line is even parsed.
if (args is ["hook"])
{
    return HookCommand.RunOnConsole();
}

return await AgentCommandLine.InvokeAsync(args);
