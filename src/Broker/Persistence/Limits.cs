namespace Relay.Broker.Persistence;

/// <summary>Column sizes shared by the configurations and by input validation.</summary>
internal static class Limits
{
    public const int Name = 128;
    public const int Actor = 256;
    public const int Path = 4096;
    public const int EnumText = 32;
    public const int HookEventName = 64;
    public const int ToolName = 128;
    public const int IdempotencyKey = 128;
    public const int RequestId = 64;
    public const int Reason = 1024;
    public const int Description = 4096;
    public const int InputPreview = 8192;
    public const int Sha256Bytes = 32;

    /// <summary>The text search configuration for prompts and replies.</summary>
    public const string TextSearchConfig = "english";
}
