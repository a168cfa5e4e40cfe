namespace Relay.Agent.Local;

/// <summary>The contract's rule for client-generated ids (common.proto): 1 to 128 characters of [A-Za-z0-9._:-].</summary>
internal static class ClientIds
{
    public static bool IsValid(string id) =>
        id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');
}
