using System.Net.Sockets;
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
        HttpRequestException or SocketException => (ExitCodes.Unavailable, "cannot reach the broker: " + exception.Message),
        OperationCanceledException => (ExitCodes.Error, "cancelled."),
        IOException or UnauthorizedAccessException => (ExitCodes.Error, exception.Message),
        _ => (ExitCodes.Error, "unexpected error: " + exception.GetType().Name + ": " + exception.Message),
    };

    private static string Explain(RpcException e)
    {
        var detail = string.IsNullOrWhiteSpace(e.Status.Detail) ? e.StatusCode.ToString() : e.Status.Detail;
        return e.StatusCode switch
        {
            StatusCode.Unauthenticated => "not authenticated: " + detail + " (check --token, RELAY_TOKEN or 'relayctl login').",
            StatusCode.PermissionDenied => "permission denied: " + detail,
            StatusCode.NotFound => "not found: " + detail,
            StatusCode.Unavailable => "broker unavailable: " + detail + " (check --broker and that the broker is running; retrying may help).",
            StatusCode.DeadlineExceeded => "timed out: " + detail,
            _ => detail,
        };
    }
}
