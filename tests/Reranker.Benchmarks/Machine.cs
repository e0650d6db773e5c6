using System.Globalization;

namespace Reranker.Benchmarks;

/// <summary>What the benchmark records about the machine: memory of a process, load, and CPU time used by others.</summary>
internal static class Machine
{
    private const double ClockTicksPerSecond = 100; // USER_HZ on Linux

    public static double PeakRssMb() => StatusKb("VmHWM") / 1024.0;

    /// <summary>Resets this process's VmHWM to its current RSS (Linux: <c>5</c> into <c>/proc/self/clear_refs</c>).</summary>
    public static void ResetPeakRss() => File.WriteAllText("/proc/self/clear_refs", "5");

    public static double RssMb() => StatusKb("VmRSS") / 1024.0;

    /// <summary>Minor page faults of this process so far (/proc/self/stat field 10): each is a fresh page the kernel zeroed.</summary>
    public static long MinorFaults()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Trim();

    public static double LoadAverage1Min() =>
        double.Parse(LoadAverage().Split(' ')[0], CultureInfo.InvariantCulture);

    public static string CpuModel()
    {
        foreach (var line in File.ReadLines("/proc/cpuinfo"))
        {
            if (line.StartsWith("model name", StringComparison.Ordinal))
            {
                return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }

        return "unknown";
    }

    private static long StatusKb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(key.Length + 1).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    /// <summary>Busy CPU seconds of the whole machine and of the given processes, to tell how much CPU others took.</summary>
    public readonly record struct CpuSnapshot(double MachineBusy, double Ours)
    {
        public static CpuSnapshot Take(params int[] ourPids)
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...
            double busy = 0;
            foreach (var i in new[] { 1, 2, 3, 6, 7, 8 })
            {
                busy += double.Parse(fields[i], CultureInfo.InvariantCulture);
            }

            double ours = ProcessTicks(Environment.ProcessId);
            foreach (var pid in ourPids)
            {
                ours += ProcessTicks(pid);
            }

            return new CpuSnapshot(busy / ClockTicksPerSecond, ours / ClockTicksPerSecond);
        }

        /// <summary>CPU seconds that processes other than ours used since <paramref name="start"/>.</summary>
        public double OthersSince(CpuSnapshot start) =>
            Math.Max(0, (MachineBusy - start.MachineBusy) - (Ours - start.Ours));

        /// <summary>CPU seconds our processes used since <paramref name="start"/>.</summary>
        public double OursSince(CpuSnapshot start) => Ours - start.Ours;

        private static double ProcessTicks(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // fields[0] is state (field 3); utime is field 14, stime 15 → indices 11, 12
                return double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }
}
