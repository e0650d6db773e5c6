using Reranker;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// What <see cref="CrossEncoderServiceCollectionExtensions.AddCrossEncoder(IServiceCollection, Action{CrossEncoderServiceOptions})"/>
/// needs to create the registered <see cref="CrossEncoder"/>: a model directory and the encoder's settings.
/// </summary>
/// <remarks>
/// Bound from configuration, a section looks like
/// <c>{ "ModelDirectory": "/models/bge-reranker-v2-m3-ko", "CrossEncoder": { "MaxLength": 1024, "IntraOpNumThreads": 4 } }</c>.
/// The values are read once, when the encoder is first resolved.
/// </remarks>
public sealed class CrossEncoderServiceOptions
{
    /// <summary>The model directory passed to <see cref="CrossEncoder.Create(string, CrossEncoderOptions?)"/>; required.</summary>
    public string? ModelDirectory { get; set; }

    /// <summary>Settings of the encoder; the defaults of <see cref="CrossEncoderOptions"/> unless replaced or bound.</summary>
    /// <exception cref="ArgumentNullException">The value is <see langword="null"/>.</exception>
    public CrossEncoderOptions CrossEncoder
    {
        get;
        set
        {
            ArgumentNullException.ThrowIfNull(value, nameof(CrossEncoder));
            field = value;
        }
    } = new();
}
