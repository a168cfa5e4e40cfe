using Microsoft.EntityFrameworkCore;
using Relay.Broker.Persistence;
using Relay.Broker.Tests.Infrastructure;

namespace Relay.Broker.Tests.Persistence;

[Collection(PostgresCollection.Name)]
public sealed class TokenHashTests(PostgresFixture postgres)
{
    [Fact]
    public async Task ApiToken_Stored_KeepsOnlyTheSha256AndNeverTheToken()
    {
        using var timeout = TestTimeout.Start();
        var database = await postgres.DatabaseFor<TokenHashTests>();
        var raw = TokenHash.NewToken("relay_pat_");
        var token = Seed.ApiToken(raw);
        await using (var db = database.CreateContext())
        {
            db.ApiTokens.Add(token);
            await db.SaveChangesAsync(timeout.Token);
        }

        var row = await database.ScalarAsync<string>($"SELECT row_to_json(t)::text FROM api_tokens t WHERE id = '{token.Id}'", timeout.Token);

        row.Should().NotContain(raw).And.NotContain(raw["relay_pat_".Length..]);
        row.Should().Contain(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(raw))));
        await using var lookup = database.CreateContext();
        var hash = TokenHash.Compute(raw);
        (await lookup.ApiTokens.SingleAsync(t => t.TokenHash == hash, timeout.Token)).Id.Should().Be(token.Id);
    }

    [Fact]
    public void NewToken_TwoCalls_AreDistinctUrlSafeAndCarry256Bits()
    {
        var one = TokenHash.NewToken("relay_mc_");
        var two = TokenHash.NewToken("relay_mc_");

        one.Should().NotBe(two).And.StartWith("relay_mc_").And.MatchRegex("^relay_mc_[A-Za-z0-9_-]{43}$");
    }

    [Fact]
    public void Matches_RightAndWrongToken_ComparesHashes()
    {
        var raw = TokenHash.NewToken("relay_pat_");
        var stored = TokenHash.Compute(raw);

        TokenHash.Matches(raw, stored).Should().BeTrue();
        TokenHash.Matches(raw + "x", stored).Should().BeFalse();
        stored.Should().HaveCount(32);
    }
}
