namespace Reranker.Tests.Support;

/// <summary>A throw-away copy of the tiny model directory that a test may break on purpose; deleted on dispose.</summary>
internal sealed class TempModelDirectory : IDisposable
{
    public TempModelDirectory(bool copyModel = true)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "reranker-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        foreach (var file in Directory.GetFiles(TestPaths.TinyModel))
        {
            var name = System.IO.Path.GetFileName(file);
            if (copyModel || !name.EndsWith(".onnx", StringComparison.Ordinal))
            {
                System.IO.File.Copy(file, File(name));
            }
        }
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Write(string name, byte[] bytes) => System.IO.File.WriteAllBytes(File(name), bytes);

    public void Write(string name, string text) => System.IO.File.WriteAllText(File(name), text);

    public void Delete(string name) => System.IO.File.Delete(File(name));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp folder is harmless.
        }
    }
}
