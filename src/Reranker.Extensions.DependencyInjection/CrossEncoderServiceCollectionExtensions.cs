using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Reranker;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a <see cref="CrossEncoder"/> in an <see cref="IServiceCollection"/>.</summary>
/// <remarks>
/// The encoder is a singleton: loading a model takes seconds and hundreds of megabytes, and one instance is safe to
/// use from many threads. It is created on first resolution (not at registration) and disposed with the container
/// that created it. Configuration errors (a missing directory or model file, an invalid option) therefore surface
/// when the encoder is first resolved. When the container has an <see cref="ILoggerFactory"/> (as a host does) and
/// <see cref="CrossEncoderOptions.LoggerFactory"/> is not set, the encoder logs through it.
/// </remarks>
public static class CrossEncoderServiceCollectionExtensions
{
    /// <summary>Registers a singleton <see cref="CrossEncoder"/> loaded from <paramref name="modelDirectory"/>.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="modelDirectory">The model directory, as for <see cref="CrossEncoder.Create(string, CrossEncoderOptions?)"/>.</param>
    /// <param name="options">Settings of the encoder; <see langword="null"/> for the defaults.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="modelDirectory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="modelDirectory"/> is empty or white space.</exception>
    public static IServiceCollection AddCrossEncoder(this IServiceCollection services, string modelDirectory, CrossEncoderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        return services.AddCrossEncoder(o =>
        {
            o.ModelDirectory = modelDirectory;
            if (options is not null)
            {
                o.CrossEncoder = options;
            }
        });
    }

    /// <summary>Registers a singleton <see cref="CrossEncoder"/> configured through the options pattern.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">
    /// Sets <see cref="CrossEncoderServiceOptions.ModelDirectory"/> and, optionally, <see cref="CrossEncoderServiceOptions.CrossEncoder"/>.
    /// Other <c>Configure&lt;CrossEncoderServiceOptions&gt;</c> calls apply too, in registration order.
    /// </param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCrossEncoder(this IServiceCollection services, Action<CrossEncoderServiceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddOptions(services).Configure(configure);
        services.AddSingleton(CreateEncoder);
        return services;
    }

    /// <summary>Registers a singleton <see cref="CrossEncoder"/> configured from a configuration section.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">
    /// A section with <c>ModelDirectory</c> and, optionally, a <c>CrossEncoder</c> object holding
    /// <see cref="CrossEncoderOptions"/> properties, for example <c>configuration.GetSection("Reranker")</c>.
    /// </param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configuration"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddCrossEncoder(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        AddOptions(services).Bind(configuration);
        services.AddSingleton(CreateEncoder);
        return services;
    }

    private static OptionsBuilder<CrossEncoderServiceOptions> AddOptions(IServiceCollection services) =>
        services.AddOptions<CrossEncoderServiceOptions>()
            .Validate(
                o => !string.IsNullOrWhiteSpace(o.ModelDirectory),
                $"{nameof(CrossEncoderServiceOptions)}.{nameof(CrossEncoderServiceOptions.ModelDirectory)} is not set: name the directory of the ONNX model.");

    private static CrossEncoder CreateEncoder(IServiceProvider provider)
    {
        var options = provider.GetRequiredService<IOptions<CrossEncoderServiceOptions>>().Value;
        var encoderOptions = options.CrossEncoder;
        if (encoderOptions.LoggerFactory is null && provider.GetService<ILoggerFactory>() is { } loggerFactory)
        {
            encoderOptions = encoderOptions with { LoggerFactory = loggerFactory };
        }

        return CrossEncoder.Create(options.ModelDirectory!, encoderOptions);
    }
}
