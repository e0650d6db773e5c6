namespace Reranker.Benchmarks;

/// <summary>One batch padded the way the library pads it: rows of ids to the longest, mask 1 over real tokens.</summary>
internal readonly record struct PaddedBatch(long[] Ids, long[] Mask, int Rows, int Columns)
{
    /// <summary>Pads the sequences <paramref name="batch"/> picks out of <paramref name="ids"/>.</summary>
    public static PaddedBatch Create(IReadOnlyList<int[]> ids, int[] batch, int padId)
    {
        var cols = batch.Max(i => ids[i].Length);
        var flat = new long[batch.Length * cols];
        var mask = new long[batch.Length * cols];
        Array.Fill(flat, padId);
        for (var r = 0; r < batch.Length; r++)
        {
            var row = ids[batch[r]];
            for (var t = 0; t < row.Length; t++)
            {
                flat[(r * cols) + t] = row[t];
                mask[(r * cols) + t] = 1;
            }
        }

        return new PaddedBatch(flat, mask, batch.Length, cols);
    }
}
