namespace Relay.Grpc.Tests.Infrastructure;

/// <summary>Bounds for every wait in the tests: generous, because the machine is shared and slow.</summary>
internal static class Waits
{
    /// <summary>How long a step that should be quick may take before the test fails.</summary>
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(15);

    /// <summary>Waits for <paramref name="task"/>, failing the test (TimeoutException) after <see cref="Long"/>.</summary>
    public static Task<T> Bounded<T>(this Task<T> task) => task.WaitAsync(Long);

    /// <inheritdoc cref="Bounded{T}(Task{T})"/>
    public static Task Bounded(this Task task) => task.WaitAsync(Long);

    /// <summary>A signal a test sets from a handler and awaits from the test body.</summary>
    public static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc cref="NewSignal"/>
    public static TaskCompletionSource<T> NewSignal<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
