using System.Diagnostics;

namespace Relay.Agent.Doctor;

/// <summary>Runs a program briefly to ask for its version.</summary>
internal static class ProgramProbe
{
    /// <summary>The program's stdout (or stderr when stdout is empty), or null when it failed or took too long.</summary>
    public static async Task<string?> RunAsync(string path, string argument, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start);
            if (process is null)
            {
                return null;
            }

            process.StandardInput.Close();
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(timeout);
            try
            {
                var output = process.StandardOutput.ReadToEndAsync(limit.Token);
                var error = process.StandardError.ReadToEndAsync(limit.Token);
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                var text = (await output.ConfigureAwait(false)).Trim();
                return process.ExitCode == 0 ? (text.Length > 0 ? text : (await error.ConfigureAwait(false)).Trim()) : null;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
