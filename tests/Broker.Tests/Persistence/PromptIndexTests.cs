using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

/// <summary>The indexes behind the prompt reads that run on every SendPrompt and session read.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PromptIndexTests(PostgresFixture postgres)
{
    [Fact]
    public async Task OpenPromptsOfASession_Counted_ThroughThePartialIndexOfOpenPrompts()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<PromptIndexTests>();
        var session = await Seed.SessionAsync(database, await Seed.MachineAsync(database, timeout.Token), timeout.Token);

        // The count SessionSql makes for every session it reads: with only (relay_session_id, created_at) it read every
        // prompt the session ever had, and a long-lived session has thousands (measured: 1.2 ms a SendPrompt at 4,000).
        var plan = await database.ScalarAsync<string>($"""
            SET enable_seqscan = off;
            EXPLAIN (FORMAT JSON) SELECT count(*) FROM prompts p WHERE p.relay_session_id = '{session.Id}' AND p.status IN ('queued', 'sent')
            """, timeout.Token);

        plan.Should().Contain("\"ix_prompts_relay_session_id\"", "only the session's open prompts are read");
    }
}
