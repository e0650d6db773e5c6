namespace Reranker.Server.Tests;

public sealed class CpuLimitTests
{
    [Theory]
    [InlineData("0-3", 4)]
    [InlineData("0", 1)]
    [InlineData("0-1,4,6-7\n", 5)]
    [InlineData("", null)]
    [InlineData("3-1", null)]
    [InlineData("a-b", null)]
    public void Counts_a_Linux_cpu_list(string list, int? expected) => Assert.Equal(expected, CpuLimit.CountCpuList(list));

    [Theory]
    [InlineData(2, 8, 2)]
    [InlineData(8, 8, null)]
    [InlineData(4, null, null)]
    public void Limits_threads_only_below_the_machine(int processorCount, int? online, int? expected) =>
        Assert.Equal(expected, CpuLimit.Threads(processorCount, online));
}
