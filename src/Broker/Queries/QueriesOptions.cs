using System.ComponentModel.DataAnnotations;

namespace Relay.Broker.Queries;

/// <summary>Paging of Admin lists and reads (sessions, history, search, approvals). Section <c>Queries</c>.</summary>
internal sealed class QueriesOptions
{
    public const string SectionName = "Queries";

    /// <summary>Page size when a request says 0. Default 50.</summary>
    [Range(1, 10_000, ErrorMessage = "Queries:DefaultPageSize must be between 1 and 10000 (and not above MaxPageSize).")]
    public int DefaultPageSize { get; set; } = 50;

    /// <summary>Largest page honoured; larger requests get this many. Default 500.</summary>
    [Range(1, 10_000, ErrorMessage = "Queries:MaxPageSize must be between 1 and 10000.")]
    public int MaxPageSize { get; set; } = 500;

    /// <summary>Deepest result a search pages to (search pages by offset). Default 10000.</summary>
    [Range(100, 1_000_000, ErrorMessage = "Queries:MaxSearchDepth must be between 100 and 1000000.")]
    public int MaxSearchDepth { get; set; } = 10_000;
}
