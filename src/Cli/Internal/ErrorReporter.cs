using System.Net.Sockets;
using System.Security.Authentication;
using Relay.Grpc;

namespace Relay.Cli.Internal;

/// <summary>The one place that turns a failure into an exit code and one line on stderr; never a stack trace.</summary>
internal static class ErrorReporter
{
    public static int Report(Exception exception, TextWriter error)
    {
        var (code, message) = Describe(exception);
        error.WriteLine("relayctl: " + message);
        return code;
    }

    /// <summary>The exit code of every gRPC status (docs/relayctl.md lists the same table).</summary>
    internal static int ExitCodeFor(StatusCode status) => status switch
    {
        StatusCode.OK => ExitCodes.Success,
        StatusCode.InvalidArgument or StatusCode.OutOfRange => ExitCodes.Usage,
        StatusCode.NotFound => ExitCodes.NotFound,
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => ExitCodes.AccessDenied,
        StatusCode.Unavailable => ExitCodes.Unavailable,
        StatusCode.DeadlineExceeded => ExitCodes.Timeout,
        _ => ExitCodes.Error,
    };

    private static (int Code, string Message) Describe(Exception exception) => exception switch
    {
        CliException e => (e.ExitCode, e.Message),
        RpcException e => (ExitCodeFor(e.StatusCode), Explain(e)),
        HttpRequestException { InnerException: AuthenticationException tls } => (ExitCodes.Unavailable, TlsHint(tls.Message)),
        AuthenticationException tls => (ExitCodes.Unavailable, TlsHint(tls.Message)),
        HttpRequestException or SocketException => (ExitCodes.Unavailable, "cannot reach the broker: " + exception.Message
            + " (check --broker and that the broker is running)."),
        OperationCanceledException => (ExitCodes.Error, "cancelled."),
        IOException or UnauthorizedAccessException => (ExitCodes.Error, exception.Message),
        _ => (ExitCodes.Error, "unexpected error: " + exception.GetType().Name + ": " + exception.Message),
    };

    private static string TlsHint(string detail) =>
        "TLS handshake with the broker failed: " + detail + " (if the broker's certificate is signed by a private CA, pass it with --ca-cert <pem>).";

    /// <summary>What went wrong, in the broker's words, and what to do about it.</summary>
    internal static string Explain(RpcException e)
    {
        // The broker's details are sentences; the hint in parentheses ends the line instead of their full stop.
        var detail = string.IsNullOrWhiteSpace(e.Status.Detail) ? e.StatusCode.ToString() : e.Status.Detail.TrimEnd().TrimEnd('.');
        return e.StatusCode switch
        {
            StatusCode.InvalidArgument => "invalid request: " + detail + " (see 'relayctl <command> --help').",
            StatusCode.OutOfRange => "out of range: " + detail + " (for an old cursor, start again without --after, or use --since).",
            StatusCode.NotFound => "not found: " + detail + " (list what exists with 'relayctl sessions list', 'machines list' or 'approvals list').",
            StatusCode.AlreadyExists => "already exists: " + detail + " (choose another name or id).",
            StatusCode.FailedPrecondition => "refused: " + detail + " (the request does not fit the current state; check it with 'sessions show', 'approvals show' or 'policy show').",
            StatusCode.Aborted => "aborted: " + detail + " (a concurrent change won; read the current state and retry).",
            StatusCode.Unauthenticated => "not authenticated: " + detail + " (check --token, RELAY_TOKEN or 'relayctl login').",
            StatusCode.PermissionDenied => "permission denied: " + detail + " (ask an admin for a token with a higher role, or for a policy rule).",
            StatusCode.ResourceExhausted => "limit reached: " + detail + " (send less, or retry later).",
            // The gRPC layer keeps only the message of a failed TLS handshake; .NET's says "The SSL connection could not be established".
            StatusCode.Unavailable when detail.Contains("SSL", StringComparison.Ordinal) => TlsHint(detail),
            StatusCode.Unavailable => "broker unavailable: " + detail + " (check --broker and that the broker is running; retrying may help).",
            StatusCode.DeadlineExceeded => "timed out: " + detail + " (the broker did not answer in time; retry, or raise --timeout where the command has one).",
            StatusCode.Cancelled => "cancelled: " + detail + " (the call was cut off before it finished; retry).",
            StatusCode.Unimplemented => "the broker does not support this call: " + detail + " (upgrade relay-broker to the version of relayctl).",
            StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss => "broker error: " + detail + " (details are in the broker's log; report it if it persists).",
            _ => detail,
        };
    }
}
