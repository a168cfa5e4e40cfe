using Relay.Agent.Hosting;

return await AgentCommandLine.InvokeAsync(args);
