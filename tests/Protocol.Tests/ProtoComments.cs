using System.Text.RegularExpressions;

namespace Relay.Protocol.Tests;

/// <summary>
/// The comments written directly above each <c>service</c> and <c>rpc</c> of a .proto file, by full name
/// (<c>relay.v1.Admin</c>, <c>relay.v1.Admin.ListMachines</c>). The descriptors compiled into Relay.Protocol
/// carry no source info, so the generator reads the comments from the source text: a block of <c>//</c>
/// lines with no blank line between it and the declaration, one declaration per line.
/// </summary>
internal sealed partial class ProtoComments
{
    private readonly Dictionary<string, string> _byFullName;

    private ProtoComments(Dictionary<string, string> byFullName) => _byFullName = byFullName;

    /// <summary>The comment of a service or method, lines separated by '\n'; null when it has none.</summary>
    public string? For(string fullName) => _byFullName.GetValueOrDefault(fullName);

    public static ProtoComments Parse(string protoText)
    {
        var byFullName = new Dictionary<string, string>(StringComparer.Ordinal);
        var package = string.Empty;
        string? service = null;
        var block = new List<string>();
        foreach (var rawLine in protoText.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith("//", StringComparison.Ordinal))
            {
                var text = line[2..];
                block.Add(text.StartsWith(' ') ? text[1..] : text);
                continue;
            }

            string? declared = null;
            if (PackageLine().Match(line) is { Success: true } p)
            {
                package = p.Groups[1].Value;
            }
            else if (ServiceLine().Match(line) is { Success: true } s)
            {
                service = Qualify(package, s.Groups[1].Value);
                declared = service;
            }
            else if (service is not null && RpcLine().Match(line) is { Success: true } r)
            {
                declared = service + "." + r.Groups[1].Value;
            }

            if (declared is not null && block.Count > 0)
            {
                byFullName[declared] = string.Join('\n', block).TrimEnd();
            }

            block.Clear();
        }

        return new ProtoComments(byFullName);
    }

    private static string Qualify(string package, string name) => package.Length == 0 ? name : package + "." + name;

    [GeneratedRegex(@"^package\s+([\w.]+)\s*;")]
    private static partial Regex PackageLine();

    [GeneratedRegex(@"^service\s+(\w+)")]
    private static partial Regex ServiceLine();

    [GeneratedRegex(@"^rpc\s+(\w+)\s*\(")]
    private static partial Regex RpcLine();
}
