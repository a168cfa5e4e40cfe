namespace Relay.Agent.Spool;

/// <summary>
/// A droppable item (a hook event) could not be spooled: the spool is at its bound and holds nothing it may drop to make
/// room (only replies, receipts, approvals and other items that are never dropped). The producer answers its caller
/// without the item (the hook still gets its answer) rather than waiting for the broker.
/// </summary>
internal sealed class SpoolFullException(string message) : Exception(message);

/// <summary>An item is larger than <see cref="SpoolOptions.MaxItemBytes"/>; the producer must cut it.</summary>
internal sealed class SpoolItemTooLargeException(string message) : Exception(message);
