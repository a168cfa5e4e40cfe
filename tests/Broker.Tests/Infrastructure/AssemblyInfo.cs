using System.Runtime.Versioning;

// The tests run PostgreSQL server binaries and Unix sockets; they are Linux tests.
[assembly: SupportedOSPlatform("linux")]
