using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reranker.Export;
using static Reranker.Tests.Export.ExportTestSupport;

namespace Reranker.Tests.Export;

/// <summary>Bad snapshots are refused with a message naming the problem, and leave no output behind.</summary>
public sealed class ExportRefusalTests : IDisposable
{
    private readonly string snapshot = CopyTinySnapshot();
    private readonly string outRoot = NewTempDir();

    public void Dispose()
    {
        DeleteQuietly(snapshot);
        DeleteQuietly(outRoot);
    }

    private string Target => Path.Combine(outRoot, "model");

    private T Refused<T>(ExportOptions? options = null)
        where T : Exception
    {
        var e = Assert.Throws<T>(() => ModelExporter.Export(ExportSource.FromSnapshot(snapshot), Target, options));
        Assert.False(Directory.Exists(Target), "no output directory after a failed export");
        Assert.Empty(Directory.GetFileSystemEntries(outRoot)); // no temporary directory either
        return e;
    }

    private void EditConfig(Action<JsonObject> edit)
    {
        var path = Path.Combine(snapshot, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
    }

    [Fact]
    public void Wrong_architecture_is_refused_naming_what_was_found()
    {
        EditConfig(c => c["architectures"] = new JsonArray("DebertaV2ForSequenceClassification"));
        var e = Refused<NotSupportedException>();
        Assert.Contains("DebertaV2ForSequenceClassification", e.Message, StringComparison.Ordinal);
        Assert.Contains("XLMRobertaForSequenceClassification and BertForSequenceClassification", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_label_count_is_refused()
    {
        EditConfig(c =>
        {
            c["id2label"] = new JsonObject { ["0"] = "no", ["1"] = "yes" };
            c.Remove("label2id");
        });
        var e = Refused<NotSupportedException>();
        Assert.Contains("2 labels", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_tensor_is_refused_naming_it()
    {
        RewriteSafetensors((name, entry) => name == "roberta.encoder.layer.1.output.dense.bias" ? null : entry);
        var e = Refused<InvalidDataException>();
        Assert.Contains("roberta.encoder.layer.1.output.dense.bias", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tensor_of_the_wrong_shape_is_refused_naming_it_and_both_shapes()
    {
        // Same byte count, different shape: only the shape check can catch it.
        RewriteSafetensors((name, entry) =>
        {
            if (name == "classifier.dense.weight")
            {
                entry["shape"] = new JsonArray(32, 128);
            }

            return entry;
        });
        var e = Refused<InvalidDataException>();
        Assert.Contains("classifier.dense.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("[32, 128]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[64, 64]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_that_disagrees_with_the_weights_is_refused()
    {
        EditConfig(c => c["intermediate_size"] = 128);
        var e = Refused<InvalidDataException>();
        Assert.Contains("intermediate.dense.weight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_safetensors_is_refused()
    {
        var path = Path.Combine(snapshot, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 1000)]);
        var e = Refused<InvalidDataException>();
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Safetensors_cut_inside_its_header_is_refused()
    {
        var path = Path.Combine(snapshot, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..100]);
        var e = Refused<InvalidDataException>();
        Assert.Contains("model.safetensors", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Failure_while_writing_leaves_no_partial_output()
    {
        var target = Path.GetFullPath(Target);
        ModelExporter.FaultInjection = t =>
        {
            if (t == target)
            {
                throw new IOException("injected failure after writing the model");
            }
        };
        try
        {
            var e = Refused<IOException>(new ExportOptions { ExternalDataThreshold = 0 });
            Assert.Contains("injected failure", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            ModelExporter.FaultInjection = null;
        }
    }

    [Fact]
    public void Weights_of_an_unsupported_dtype_are_refused()
    {
        // A dtype the header reader knows but that is not a float weight type (I32).
        RewriteSafetensors((name, entry) =>
        {
            if (name == "roberta.encoder.layer.1.output.LayerNorm.bias")
            {
                entry["dtype"] = "I32";
            }

            return entry;
        });
        var e = Refused<NotSupportedException>();
        Assert.Contains("I32", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Existing_output_is_kept_unless_forced()
    {
        Directory.CreateDirectory(Target);
        File.WriteAllText(Path.Combine(Target, "keep.txt"), "x");
        Assert.Throws<IOException>(() => ModelExporter.Export(ExportSource.FromSnapshot(snapshot), Target));
        Assert.True(File.Exists(Path.Combine(Target, "keep.txt")));

        ModelExporter.Export(ExportSource.FromSnapshot(snapshot), Target, new ExportOptions { Overwrite = true });
        Assert.False(File.Exists(Path.Combine(Target, "keep.txt")));
        Assert.True(File.Exists(Path.Combine(Target, "model.onnx")));
        Assert.Equal(new[] { "model" }, Directory.GetFileSystemEntries(outRoot).Select(Path.GetFileName).ToArray());
    }

    /// <summary>Rewrites model.safetensors' header (entries may be dropped or edited), keeping the data bytes.</summary>
    private void RewriteSafetensors(Func<string, JsonObject, JsonObject?> edit)
    {
        var path = Path.Combine(snapshot, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, headerLength))!.AsObject();
        var edited = new JsonObject();
        foreach (var (name, value) in header.ToArray())
        {
            var entry = name == "__metadata__" ? value!.DeepClone().AsObject() : edit(name, value!.DeepClone().AsObject());
            if (entry is not null)
            {
                edited[name] = entry;
            }
        }

        var newHeader = Encoding.UTF8.GetBytes(edited.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        using var f = File.Create(path);
        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)newHeader.Length);
        f.Write(prefix);
        f.Write(newHeader);
        f.Write(bytes.AsSpan(8 + headerLength));
    }
}
