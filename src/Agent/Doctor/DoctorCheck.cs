namespace Relay.Agent.Doctor;

/// <summary>How a check came out.</summary>
internal enum CheckStatus
{
    /// <summary>Fine.</summary>
    Ok,

    /// <summary>Works, but something deserves attention.</summary>
    Warn,

    /// <summary>Broken: Relay will not work until it is fixed.</summary>
    Fail,
}

/// <summary>One line of <c>relay-agent doctor</c>.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Status">The verdict.</param>
/// <param name="Detail">What was found.</param>
/// <param name="Fix">What to do about it; null when nothing is to be done.</param>
internal sealed record DoctorCheck(string Name, CheckStatus Status, string Detail, string? Fix = null)
{
    public static DoctorCheck Ok(string name, string detail) => new(name, CheckStatus.Ok, detail);

    public static DoctorCheck Warn(string name, string detail, string fix) => new(name, CheckStatus.Warn, detail, fix);

    public static DoctorCheck Fail(string name, string detail, string fix) => new(name, CheckStatus.Fail, detail, fix);
}
