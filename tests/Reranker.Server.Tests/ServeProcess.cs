using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Reranker.Server.Tests;

/// <summary>
/// <c>reranker serve</c> as a real child process (<c>dotnet Reranker.Cli.dll serve ...</c>), its output captured, its
/// address read from the "Now listening on" line. Disposing kills it if it still runs.
/// </summary>
internal sealed partial class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServeProcess(Process process, HttpMessageHandler? handler)
    {
        _process = process;
        Client = handler is null ? new HttpClient() : new HttpClient(handler);
        Client.Timeout = TimeSpan.FromMinutes(2);
    }

    /// <summary>A client of the server's address (once <see cref="AddressAsync"/> has found it).</summary>
    public HttpClient Client { get; }

    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public int Pid => _process.Id;

    /// <summary>
    /// Starts the command with arguments after <c>serve</c> and extra environment variables (a null value unsets one);
    /// <paramref name="handler"/> is the client's (an HTTPS test passes one that trusts its own certificate).
    /// </summary>
    public static ServeProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, HttpMessageHandler? handler = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(TestPaths.CliAssembly);
        info.ArgumentList.Add("serve");
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // No hub token or offline mode from the machine running the tests.
        foreach (var name in new[] { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ASPNETCORE_URLS", "DOTNET_URLS", "Reranker__ApiKey" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = info };
        var serve = new ServeProcess(process, handler);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (serve._stdout)
            {
                serve._stdout.AppendLine(e.Data);
            }

            if (ListeningLine().Match(e.Data) is { Success: true } match)
            {
                serve._address.TrySetResult(new Uri(match.Groups[1].Value));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (serve._stderr)
                {
                    serve._stderr.AppendLine(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return serve;
    }

    /// <summary>The address the server listens on, once it says so.</summary>
    public async Task<Uri> AddressAsync()
    {
        var exited = _process.WaitForExitAsync();
        var first = await Task.WhenAny(_address.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(first == _address.Task, $"the server did not start listening.\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
        var address = await _address.Task;
        Client.BaseAddress ??= address;
        return address;
    }

    /// <summary>Polls the readiness probe until it answers 200.</summary>
    public async Task WaitUntilReadyAsync()
    {
        await AddressAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            Assert.False(_process.HasExited, $"the server exited.\nstderr:\n{Stderr}");
            using var response = await Client.GetAsync(RerankServer.ReadinessPath);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "the server did not become ready");
            await Task.Delay(50);
        }
    }

    /// <summary>Sends SIGTERM, as a container runtime or Kubernetes does.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the process to exit (bounded) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the server did not exit within {timeout}.\nstderr:\n{Stderr}");
        }

        _process.WaitForExit(); // flushes the output handlers
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (https?://\S+)")]
    private static partial Regex ListeningLine();
}
