using Google.Protobuf.Reflection;

namespace Relay.Grpc.Server.Internal;

/// <summary>The services a server maps: for UNIMPLEMENTED answers and reflection.</summary>
internal sealed class GrpcServiceRegistry
{
    private readonly Dictionary<string, HashSet<string>> _methods = new(StringComparer.Ordinal);
    private readonly List<ServiceDescriptor> _descriptors = [];
    private readonly Lock _lock = new();

    public bool UnimplementedMapped { get; set; }

    public void Add(string service, IEnumerable<string> methods, ServiceDescriptor? descriptor)
    {
        lock (_lock)
        {
            if (!_methods.TryGetValue(service, out var set))
            {
                _methods[service] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.UnionWith(methods);
            if (descriptor is not null && !_descriptors.Contains(descriptor))
            {
                _descriptors.Add(descriptor);
            }
        }
    }

    public bool IsKnownService(string service)
    {
        lock (_lock)
        {
            return _methods.ContainsKey(service);
        }
    }

    public IReadOnlyList<string> ServiceNames
    {
        get
        {
            lock (_lock)
            {
                return [.. _methods.Keys.Order(StringComparer.Ordinal)];
            }
        }
    }

    public IReadOnlyList<ServiceDescriptor> Descriptors
    {
        get
        {
            lock (_lock)
            {
                return [.. _descriptors];
            }
        }
    }
}
