namespace Relay.Broker.Prompts;

internal static class PromptsServiceCollectionExtensions
{
    /// <summary>SendPrompt, GetPrompt, waiting for prompts, and the expiry sweep.</summary>
    public static IServiceCollection AddPrompts(this IServiceCollection services)
    {
        services.AddOptions<PromptOptions>().BindConfiguration(PromptOptions.SectionName).ValidateDataAnnotations()
            .Validate(o => o.DefaultTtl <= o.MaxTtl, "Prompts:DefaultTtl must not be longer than Prompts:MaxTtl.")
            .Validate(o => o.DefaultWaitTimeout <= o.MaxWaitTimeout, "Prompts:DefaultWaitTimeout must not be longer than Prompts:MaxWaitTimeout.")
            .ValidateOnStart();
        services.AddSingleton<PromptReader>();
        services.AddSingleton<PromptWaiter>();
        services.AddSingleton<PromptSendGate>();
        services.AddSingleton<PromptSender>();
        services.AddSingleton<PromptQuery>();
        services.AddSingleton<PromptExpiryJob>();
        services.AddHostedService<PromptExpiryService>();
        return services;
    }
}
