namespace Relay.Broker.Queries;

/// <summary>LIKE patterns from user text: the text's own % _ and \ match literally.</summary>
internal static class LikePattern
{
    public static string Escape(string text) =>
        text.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal).Replace("_", @"\_", StringComparison.Ordinal);

    public static string Contains(string text) => "%" + Escape(text) + "%";
}
