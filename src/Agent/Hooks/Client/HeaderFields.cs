namespace Relay.Agent.Hooks.Client;

/// <summary>A decoded header list (response headers or trailers), in the order the server sent it.</summary>
/// <remarks>
/// Not a <c>List&lt;KeyValuePair&lt;string, string&gt;&gt;</c>: a cold <c>relay-agent hook</c> would load System.Collections.dll
/// only to follow List's type forward into CoreLib (docs/agent.md, "Hook client start time").
/// </remarks>
internal sealed class HeaderFields
{
    private string[] _names = new string[8];
    private string[] _values = new string[8];

    public int Count { get; private set; }

    public void Add(string name, string value)
    {
        if (Count == _names.Length)
        {
            var names = new string[Count * 2];
            var values = new string[Count * 2];
            Array.Copy(_names, names, Count);
            Array.Copy(_values, values, Count);
            _names = names;
            _values = values;
        }

        _names[Count] = name;
        _values[Count] = value;
        Count++;
    }

    /// <summary>The value of the last field named <paramref name="name"/>; null when there is none.</summary>
    public string? Find(string name)
    {
        for (var i = Count - 1; i >= 0; i--)
        {
            if (string.Equals(_names[i], name, StringComparison.Ordinal))
            {
                return _values[i];
            }
        }

        return null;
    }

    public KeyValuePair<string, string>[] ToArray()
    {
        var fields = new KeyValuePair<string, string>[Count];
        for (var i = 0; i < Count; i++)
        {
            fields[i] = new KeyValuePair<string, string>(_names[i], _values[i]);
        }

        return fields;
    }
}
