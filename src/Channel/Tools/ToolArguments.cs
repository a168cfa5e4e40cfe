using System.Text.Json;

namespace Relay.Channel.Tools;

/// <summary>A tool's arguments, read leniently: a number or boolean sent as a string is accepted.</summary>
internal sealed class ToolArguments(IDictionary<string, JsonElement>? arguments)
{
    /// <summary>A required, non-blank string.</summary>
    public string RequiredString(string name) =>
        OptionalString(name) is { Length: > 0 } value && !string.IsNullOrWhiteSpace(value)
            ? value
            : throw new ToolArgumentException($"The '{name}' argument is required and must be a non-empty string.");

    /// <summary>An optional string; empty when absent or null.</summary>
    public string OptionalString(string name)
    {
        if (arguments is null || !arguments.TryGetValue(name, out var value))
        {
            return "";
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString() ?? "",
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            _ => throw new ToolArgumentException($"The '{name}' argument must be a string."),
        };
    }

    /// <summary>An optional boolean; false when absent.</summary>
    public bool OptionalBool(string name)
    {
        if (arguments is null || !arguments.TryGetValue(name, out var value))
        {
            return false;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False or JsonValueKind.Null => false,
            JsonValueKind.String when bool.TryParse(value.GetString(), out var parsed) => parsed,
            _ => throw new ToolArgumentException($"The '{name}' argument must be true or false."),
        };
    }

    /// <summary>An optional integer within bounds; <paramref name="fallback"/> when absent.</summary>
    public int OptionalInt(string name, int fallback, int min, int max)
    {
        if (arguments is null || !arguments.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }

        var parsed = value.ValueKind switch
        {
            JsonValueKind.Number when value.TryGetInt32(out var n) => n,
            JsonValueKind.String when int.TryParse(value.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var n) => n,
            _ => throw new ToolArgumentException($"The '{name}' argument must be a whole number."),
        };
        return parsed >= min && parsed <= max
            ? parsed
            : throw new ToolArgumentException($"The '{name}' argument is {parsed}; use a number from {min} to {max}.");
    }
}

/// <summary>A tool argument is missing or malformed; the message is shown to Claude.</summary>
internal sealed class ToolArgumentException(string message) : Exception(message);
