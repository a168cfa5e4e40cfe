using Relay.Broker.Persistence;

namespace Relay.Broker.Queries;

/// <summary>Reads the snake_case text the schema stores enums as (SnakeCaseEnumConverter) in hand-written SQL results.</summary>
internal static class EnumText<TEnum>
    where TEnum : struct, Enum
{
    private static readonly Dictionary<string, TEnum> Values =
        Enum.GetValues<TEnum>().ToDictionary(value => SnakeCase.From(value.ToString()), value => value, StringComparer.Ordinal);

    public static TEnum Parse(string text) =>
        Values.TryGetValue(text, out var value) ? value : throw new FormatException($"'{text}' is not a stored {typeof(TEnum).Name}.");

    public static string ToText(TEnum value) => SnakeCaseEnumConverter<TEnum>.ToText(value);
}
