using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Reranker.Tests.Support;
using Reranker.Tokenization;

namespace Reranker.Tests.Extensions;

public sealed class DependencyInjectionTests
{
    private static readonly (string Query, string Document)[] Pairs =
    [
        ("머신러닝이란?", "머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다."),
        ("머신러닝이란?", "오늘은 비가 옵니다."),
        ("what is a reranker", "A cross-encoder reads the query and the passage together."),
    ];

    [Fact]
    public void AddCrossEncoder_resolves_one_singleton_that_scores_like_a_direct_instance_and_is_disposed_with_the_provider()
    {
        using var direct = CrossEncoder.Create(TestPaths.TinyModel);
        var expected = direct.Predict(Pairs);

        var services = new ServiceCollection().AddCrossEncoder(TestPaths.TinyModel);
        CrossEncoder encoder;
        using (var provider = services.BuildServiceProvider(validateScopes: true))
        {
            encoder = provider.GetRequiredService<CrossEncoder>();
            Assert.Same(encoder, provider.GetRequiredService<CrossEncoder>());
            using (var scope = provider.CreateScope())
            {
                Assert.Same(encoder, scope.ServiceProvider.GetRequiredService<CrossEncoder>());
            }

            Assert.Equal(expected, encoder.Predict(Pairs));
        }

        Assert.Throws<ObjectDisposedException>(() => encoder.Predict(Pairs));
    }

    [Fact]
    public void AddCrossEncoder_creates_the_encoder_on_first_resolution_not_at_registration()
    {
        var missing = Path.Combine(Path.GetTempPath(), "reranker-no-such-model-" + Guid.NewGuid().ToString("N"));
        var services = new ServiceCollection().AddCrossEncoder(missing);
        using var provider = services.BuildServiceProvider();

        Assert.Throws<DirectoryNotFoundException>(provider.GetRequiredService<CrossEncoder>);
    }

    [Fact]
    public void AddCrossEncoder_passes_the_options_through()
    {
        var options = new CrossEncoderOptions { MaxLength = 64, BatchSize = 2 };
        using var provider = new ServiceCollection().AddCrossEncoder(TestPaths.TinyModel, options).BuildServiceProvider();

        Assert.Same(options, provider.GetRequiredService<CrossEncoder>().Options);
    }

    [Fact]
    public void AddCrossEncoder_binds_from_configuration()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Reranker:ModelDirectory"] = TestPaths.TinyModel,
                ["Reranker:CrossEncoder:MaxLength"] = "128",
                ["Reranker:CrossEncoder:BatchSize"] = "4",
                ["Reranker:CrossEncoder:Truncation"] = "QueryCapped",
                ["Reranker:CrossEncoder:IntraOpNumThreads"] = "1",
            })
            .Build();
        using var provider = new ServiceCollection().AddCrossEncoder(configuration.GetSection("Reranker")).BuildServiceProvider();

        var encoder = provider.GetRequiredService<CrossEncoder>();

        Assert.Equal(128, encoder.Options.MaxLength);
        Assert.Equal(4, encoder.Options.BatchSize);
        Assert.Equal(TruncationStrategy.QueryCapped, encoder.Options.Truncation);
        Assert.Equal(1, encoder.Options.IntraOpNumThreads);
        using var direct = CrossEncoder.Create(TestPaths.TinyModel, encoder.Options);
        Assert.Equal(direct.Predict(Pairs), encoder.Predict(Pairs));
    }

    [Fact]
    public void AddCrossEncoder_with_the_options_pattern_applies_later_Configure_calls()
    {
        var services = new ServiceCollection()
            .AddCrossEncoder(o => o.ModelDirectory = "/not/this/one")
            .Configure<CrossEncoderServiceOptions>(o =>
            {
                o.ModelDirectory = TestPaths.TinyModel;
                o.CrossEncoder = new CrossEncoderOptions { MaxLength = 100 };
            });
        using var provider = services.BuildServiceProvider();

        Assert.Equal(100, provider.GetRequiredService<CrossEncoder>().Options.MaxLength);
    }

    [Fact]
    public void AddCrossEncoder_without_a_model_directory_fails_validation_when_resolved()
    {
        using var provider = new ServiceCollection().AddCrossEncoder(_ => { }).BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(provider.GetRequiredService<CrossEncoder>);
        Assert.Contains("ModelDirectory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_encoder_logs_through_the_containers_ILoggerFactory()
    {
        var logs = new CapturingLoggerFactory();
        var services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(logs)
            .AddCrossEncoder(TestPaths.TinyModel, new CrossEncoderOptions { MaxLength = 16 });
        using var provider = services.BuildServiceProvider();

        var encoder = provider.GetRequiredService<CrossEncoder>();
        encoder.Predict(Pairs);

        Assert.Single(logs.WithEventId(CrossEncoderLogEvents.ModelLoaded));
        Assert.Single(logs.WithEventId(CrossEncoderLogEvents.PairsTruncated));
        Assert.Same(logs, encoder.Options.LoggerFactory);
        Assert.Equal(16, encoder.Options.MaxLength);
    }

    [Fact]
    public void AddCrossEncoder_rejects_null_arguments()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentNullException>(() => services.AddCrossEncoder((string)null!));
        Assert.Throws<ArgumentException>(() => services.AddCrossEncoder(" "));
        Assert.Throws<ArgumentNullException>(() => services.AddCrossEncoder((Action<CrossEncoderServiceOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => services.AddCrossEncoder((IConfiguration)null!));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddCrossEncoder(TestPaths.TinyModel));
    }
}
