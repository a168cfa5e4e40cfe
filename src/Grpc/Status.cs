namespace Relay.Grpc;

/// <summary>The outcome of a call: a code and a human-readable detail.</summary>
/// <param name="StatusCode">The status code.</param>
/// <param name="Detail">The detail message (sent percent-encoded as <c>grpc-message</c>).</param>
public readonly record struct Status(StatusCode StatusCode, string Detail)
{
    /// <summary>The OK status with an empty detail.</summary>
    public static readonly Status DefaultSuccess = new(StatusCode.OK, string.Empty);

    /// <summary>The status of a call that was cancelled locally.</summary>
    public static readonly Status DefaultCancelled = new(StatusCode.Cancelled, string.Empty);

    /// <inheritdoc />
    public override string ToString() => $"Status(StatusCode=\"{StatusCode}\", Detail=\"{Detail}\")";
}
