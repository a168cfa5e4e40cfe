using Relay.Broker.Tests.Infrastructure;
using Relay.Grpc;
using Relay.Protocol.V1;
using Db = Relay.Broker.Persistence.Entities;

namespace Relay.Broker.Tests.Queries;

[Collection(PostgresCollection.Name)]
public sealed class SearchTests(PostgresFixture postgres)
{
    [Fact]
    public async Task SearchSessions_WordInPromptAndReply_ReturnsBothWithSnippetRankAndCursor()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SearchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, "searcher", cancellationToken: timeout.Token);
        var word = "zebra" + Guid.NewGuid().ToString("N")[..6];
        var sent = await env.Operator.SendPromptAsync(
            new SendPromptRequest { PromptId = Guid.NewGuid().ToString(), Session = new SessionSelector { SessionId = session.Id.ToString() }, Text = $"Please deploy the {word} cluster to staging" },
            SteeringEnv.Call(timeout.Token));
        await using (var db = env.Database.CreateContext())
        {
            db.Replies.Add(new Db.Reply { Id = Guid.NewGuid(), RelaySessionId = session.Id, PromptId = Guid.Parse(sent.Prompt.PromptId), Text = $"Deployed {word}: all pods healthy", CreatedAt = DateTimeOffset.UtcNow });
            db.Replies.Add(new Db.Reply { Id = Guid.NewGuid(), RelaySessionId = session.Id, Text = "unrelated words only", CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync(timeout.Token);
        }

        var response = await env.Viewer.SearchSessionsAsync(new SearchSessionsRequest { Query = word }, SteeringEnv.Call(timeout.Token));
        var onlyReplies = await env.Viewer.SearchSessionsAsync(new SearchSessionsRequest { Query = $"{word} -staging", Kinds = { EventKind.Reply } }, SteeringEnv.Call(timeout.Token));

        response.Hits.Should().HaveCount(2);
        response.Hits.Should().OnlyContain(h => h.Snippet.Contains("«" + word + "»") && h.Rank > 0 && h.Session.Name == "searcher");
        var prompt = response.Hits.Single(h => h.Event.Kind == EventKind.PromptCreated);
        prompt.Event.Prompt.PromptId.Should().Be(sent.Prompt.PromptId);
        prompt.Event.Cursor.Should().StartWith("ev", "the prompt's created entry is in the event log");
        onlyReplies.Hits.Should().ContainSingle().Which.Event.Reply.Text.Should().Contain("pods");
    }

    [Fact]
    public async Task SearchSessions_PagesOfOne_ReturnEveryHitOnce()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SearchTests>(postgres, cancellationToken: timeout.Token);
        var machine = await SteeringSeed.MachineAsync(env.Database, cancellationToken: timeout.Token);
        var session = await SteeringSeed.SessionAsync(env.Database, machine, cancellationToken: timeout.Token);
        var word = "quokka" + Guid.NewGuid().ToString("N")[..6];
        await using (var db = env.Database.CreateContext())
        {
            for (var i = 0; i < 3; i++)
            {
                db.Replies.Add(new Db.Reply { Id = Guid.NewGuid(), RelaySessionId = session.Id, Text = $"{word} number {i}", CreatedAt = DateTimeOffset.UtcNow.AddSeconds(i) });
            }

            await db.SaveChangesAsync(timeout.Token);
        }

        var ids = new List<string>();
        var request = new SearchSessionsRequest { Query = word, PageSize = 1, Session = new SessionSelector { SessionId = session.Id.ToString() } };
        do
        {
            var page = await env.Viewer.SearchSessionsAsync(request, SteeringEnv.Call(timeout.Token));
            ids.AddRange(page.Hits.Select(h => h.Event.Reply.ReplyId));
            request.PageToken = page.NextPageToken;
        }
        while (request.PageToken.Length > 0);

        ids.Should().HaveCount(3).And.OnlyHaveUniqueItems();
    }

    [Fact]
    public async Task SearchSessions_EmptyQueryOrOtherKinds_InvalidArgument()
    {
        using var timeout = TestTimeout.Start();
        await using var env = await SteeringEnv.StartAsync<SearchTests>(postgres, cancellationToken: timeout.Token);

        var empty = await RpcAssert.FailsAsync(() => env.Viewer.SearchSessionsAsync(new SearchSessionsRequest { Query = " " }, SteeringEnv.Call(timeout.Token)).ResponseAsync, StatusCode.InvalidArgument);
        var kinds = await RpcAssert.FailsAsync(
            () => env.Viewer.SearchSessionsAsync(new SearchSessionsRequest { Query = "x", Kinds = { EventKind.Hook } }, SteeringEnv.Call(timeout.Token)).ResponseAsync,
            StatusCode.InvalidArgument);

        empty.Detail.Should().StartWith("query");
        kinds.Detail.Should().StartWith("kinds[0]");
    }
}
