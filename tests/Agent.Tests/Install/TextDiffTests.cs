using Relay.Agent.Install;

namespace Relay.Agent.Tests.Install;

public sealed class TextDiffTests
{
    [Fact]
    public void Unified_EqualTexts_IsEmpty() => TextDiff.Unified("a\nb\n", "a\nb\n", "x", "y").Should().BeEmpty();

    [Fact]
    public void Unified_InsertionInTheMiddle_ShowsContextAndLineNumbers()
    {
        var before = string.Join('\n', Enumerable.Range(1, 10).Select(i => "l" + i)) + "\n";
        var after = before.Replace("l5\n", "l5\nnew\n", StringComparison.Ordinal);

        var diff = TextDiff.Unified(before, after, "a", "b");

        diff.Should().Be("--- a\n+++ b\n@@ -3,6 +3,7 @@\n l3\n l4\n l5\n+new\n l6\n l7\n l8\n");
    }

    [Fact]
    public void Unified_TwoDistantChanges_MakeTwoHunks()
    {
        var before = string.Join('\n', Enumerable.Range(1, 20).Select(i => "l" + i)) + "\n";
        var after = before.Replace("l2\n", "L2\n", StringComparison.Ordinal).Replace("l19\n", "L19\n", StringComparison.Ordinal);

        var diff = TextDiff.Unified(before, after, "a", "b");

        diff.Should().Contain("@@ -1,5 +1,5 @@\n l1\n-l2\n+L2\n").And.Contain("@@ -16,5 +16,5 @@\n l16\n l17\n l18\n-l19\n+L19\n l20\n");
    }

    [Fact]
    public void Unified_NewFile_StartsAtZero() =>
        TextDiff.Unified(string.Empty, "{\n}\n", "a", "b").Should().Be("--- a\n+++ b\n@@ -0,0 +1,2 @@\n+{\n+}\n");
}
