using System.Globalization;

namespace Relay.Broker.Postgres;

/// <summary>Who this process runs as, and how to run a program as another account.</summary>
internal static class UnixAccount
{
    private static readonly string[] RunuserPaths = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"];

    /// <summary>True when the effective user id is 0.</summary>
    public static bool IsRoot() => EffectiveUserId() == 0;

    /// <summary>The effective uid from <c>/proc/self/status</c> ("Uid: real effective saved fs").</summary>
    public static int? EffectiveUserId()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    var fields = line["Uid:".Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 1 ? int.Parse(fields[1], CultureInfo.InvariantCulture) : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>
    /// The program and arguments that run <paramref name="fileName"/> as <paramref name="account"/>: <c>runuser</c>
    /// (util-linux) where it exists, else <c>su</c> with a quoted command line.
    /// </summary>
    public static (string FileName, IReadOnlyList<string> Arguments) WrapAs(string account, string fileName, IReadOnlyList<string> arguments)
    {
        var runuser = RunuserPaths.FirstOrDefault(File.Exists);
        if (runuser is not null)
        {
            return (runuser, ["-u", account, "--", fileName, .. arguments]);
        }

        var command = "exec " + string.Join(' ', new[] { fileName }.Concat(arguments).Select(ShellQuote));
        return ("su", ["-s", "/bin/sh", account, "-c", command]);
    }

    /// <summary>Quotes a word for /bin/sh with single quotes.</summary>
    public static string ShellQuote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
