namespace Reranker.Server;

/// <summary>Whether the process may use fewer CPUs than the machine has online: a cgroup CPU quota or an affinity mask.</summary>
internal static class CpuLimit
{
    /// <summary>
    /// <see cref="Environment.ProcessorCount"/> when it is below the machine's online CPUs (it follows cgroup
    /// <c>cpu.max</c> / <c>cpu.cfs_quota_us</c>, rounded up, and the affinity mask); <see langword="null"/> when the
    /// process is not limited or the online CPUs cannot be read (not Linux).
    /// </summary>
    public static int? Threads() => Threads(Environment.ProcessorCount, ReadOnline());

    internal static int? Threads(int processorCount, int? online) =>
        online is { } machine && processorCount < machine ? processorCount : null;

    /// <summary>Counts the CPUs in a Linux CPU list such as <c>0-3,6,8-9</c>; <see langword="null"/> when malformed.</summary>
    internal static int? CountCpuList(string list)
    {
        var count = 0;
        foreach (var part in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            if (range.Length == 1 && int.TryParse(range[0], out _))
            {
                count++;
            }
            else if (range.Length == 2 && int.TryParse(range[0], out var from) && int.TryParse(range[1], out var to) && to >= from)
            {
                count += to - from + 1;
            }
            else
            {
                return null;
            }
        }

        return count > 0 ? count : null;
    }

    private static int? ReadOnline()
    {
        try
        {
            const string path = "/sys/devices/system/cpu/online";
            return OperatingSystem.IsLinux() && File.Exists(path) ? CountCpuList(File.ReadAllText(path)) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
