using Relay.Broker.Hosting;

return await BrokerCommandLine.InvokeAsync(args);
