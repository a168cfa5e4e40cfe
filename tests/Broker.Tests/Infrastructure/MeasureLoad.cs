namespace Relay.Broker.Tests.Infrastructure;

/// <summary>
/// The load of the Category=Measure tests: small by default, so `make test` stays quick while they still check
/// correctness; full when <c>RELAY_MEASURE=1</c> (run them with
/// <c>RELAY_MEASURE=1 dotnet test tests/Broker.Tests -c Release --filter Category=Measure --logger "console;verbosity=detailed"</c>).
/// </summary>
internal static class MeasureLoad
{
    public const string EnvironmentVariable = "RELAY_MEASURE";

    public static bool Full => Environment.GetEnvironmentVariable(EnvironmentVariable) == "1";

    /// <summary>How the figures were made, for the test output.</summary>
    public static string Mode => Full ? "full load (RELAY_MEASURE=1)" : "quick load (set RELAY_MEASURE=1 for the full one)";

    public static int Pick(int quick, int full) => Full ? full : quick;
}
