using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Relay.Broker.Persistence;

/// <summary>Stores an enum as the snake_case of its member name (<c>WaitingForInput</c> → <c>waiting_for_input</c>).</summary>
internal sealed class SnakeCaseEnumConverter<TEnum>() : ValueConverter<TEnum, string>(
    value => Names[value],
    text => Values[text])
    where TEnum : struct, Enum
{
    private static readonly Dictionary<TEnum, string> Names =
        Enum.GetValues<TEnum>().ToDictionary(value => value, value => SnakeCase.From(value.ToString()));

    private static readonly Dictionary<string, TEnum> Values =
        Names.ToDictionary(pair => pair.Value, pair => pair.Key, StringComparer.Ordinal);

    /// <summary>The stored text of a value, for hand-written SQL.</summary>
    public static string ToText(TEnum value) => Names[value];
}

internal static class EnumPropertyBuilderExtensions
{
    /// <summary>Stores the enum as snake_case text of at most <paramref name="maxLength"/> characters.</summary>
    public static PropertyBuilder<TEnum> StoredAsText<TEnum>(this PropertyBuilder<TEnum> property, int maxLength)
        where TEnum : struct, Enum =>
        property.HasConversion(new SnakeCaseEnumConverter<TEnum>()).HasMaxLength(maxLength);

    /// <inheritdoc cref="StoredAsText{TEnum}(PropertyBuilder{TEnum}, int)"/>
    public static PropertyBuilder<TEnum?> StoredAsText<TEnum>(this PropertyBuilder<TEnum?> property, int maxLength)
        where TEnum : struct, Enum =>
        property.HasConversion(new SnakeCaseEnumConverter<TEnum>()).HasMaxLength(maxLength);
}
