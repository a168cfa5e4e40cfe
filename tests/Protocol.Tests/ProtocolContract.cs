using System.Reflection;
using Google.Protobuf.Reflection;
using Relay.Protocol.V1;

namespace Relay.Protocol.Tests;

/// <summary>A .proto file compiled into Relay.Protocol, with the protoc-generated class that holds its descriptor.</summary>
internal sealed record ProtoFile(FileDescriptor Descriptor, Type ReflectionClass);

/// <summary>The relay.v1 contract as compiled into Relay.Protocol, and where the repository is.</summary>
internal static class ProtocolContract
{
    /// <summary>Every .proto file compiled into Relay.Protocol, found through the protoc-generated
    /// <c>XxxReflection</c> classes (so a new file or service is picked up without a list to update).</summary>
    public static IReadOnlyList<ProtoFile> Files { get; } = FindFiles();

    /// <summary>Every service of the contract, ordered by full name.</summary>
    public static IReadOnlyList<ServiceDescriptor> Services { get; } =
        [.. Files.SelectMany(f => f.Descriptor.Services).OrderBy(s => s.FullName, StringComparer.Ordinal)];

    /// <summary>The service names, as xunit theory data.</summary>
    public static TheoryData<string> ServiceNames => [.. Services.Select(s => s.FullName)];

    public static ServiceDescriptor Service(string fullName) => Services.Single(s => s.FullName == fullName);

    /// <summary>The repository root: the nearest folder above the test binaries that holds <c>Relay.sln</c>.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    private static List<ProtoFile> FindFiles()
    {
        var files = new List<ProtoFile>();
        foreach (var type in typeof(CommonReflection).Assembly.GetExportedTypes())
        {
            if (type.IsAbstract && type.IsSealed
                && type.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static) is { PropertyType: var t } property
                && t == typeof(FileDescriptor))
            {
                files.Add(new ProtoFile((FileDescriptor)property.GetValue(null)!, type));
            }
        }

        return [.. files.OrderBy(f => f.Descriptor.Name, StringComparer.Ordinal)];
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Relay.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Relay.sln above {AppContext.BaseDirectory}.");
    }
}
