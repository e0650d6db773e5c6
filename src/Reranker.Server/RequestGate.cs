namespace Reranker.Server;

/// <summary>
/// Bounds the work in flight: at most <see cref="MaxConcurrent"/> requests score at once and at most
/// <see cref="MaxQueued"/> more wait for a slot; a request beyond that is refused at once (the service answers 503).
/// </summary>
public sealed class RequestGate : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private int _admitted;
    private int _running;

    /// <summary>Creates a gate.</summary>
    /// <param name="maxConcurrent">Most holders of a slot at once; positive.</param>
    /// <param name="maxQueued">Most callers waiting for a slot; zero or more.</param>
    public RequestGate(int maxConcurrent, int maxQueued)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxConcurrent);
        ArgumentOutOfRangeException.ThrowIfNegative(maxQueued);
        MaxConcurrent = maxConcurrent;
        MaxQueued = maxQueued;
        _slots = new SemaphoreSlim(maxConcurrent, maxConcurrent);
    }

    /// <summary>Most requests holding a slot at once.</summary>
    public int MaxConcurrent { get; }

    /// <summary>Most requests waiting for a slot.</summary>
    public int MaxQueued { get; }

    /// <summary>Requests admitted and not yet finished: those holding a slot plus those waiting for one.</summary>
    public int Admitted => Volatile.Read(ref _admitted);

    /// <summary>Requests holding a slot (scoring).</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Requests waiting for a slot.</summary>
    public int Queued => Math.Max(0, Admitted - Running);

    /// <summary>
    /// Takes a slot, waiting in the queue if all are taken; returns <see langword="null"/> at once when the queue is
    /// full too. Dispose the returned lease to give the slot back.
    /// </summary>
    /// <param name="cancellationToken">Stops the wait (e.g. the client went away).</param>
    /// <returns>The lease, or <see langword="null"/> when the request is refused.</returns>
    public async Task<IDisposable?> TryEnterAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > MaxConcurrent + MaxQueued)
        {
            Interlocked.Decrement(ref _admitted);
            return null;
        }

        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }

        Interlocked.Increment(ref _running);
        return new Lease(this);
    }

    /// <summary>Releases the semaphore.</summary>
    public void Dispose() => _slots.Dispose();

    private sealed class Lease(RequestGate gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Decrement(ref gate._running);
                gate._slots.Release();
                Interlocked.Decrement(ref gate._admitted);
            }
        }
    }
}
