namespace Reranker.Retrieval.Tests;

/// <summary>The bundled tiny model (random weights: its scores show the plumbing, not relevance) and a small corpus.</summary>
internal static class TestData
{
    public const string Query = "머신러닝이란 무엇인가요?";

    public static string TinyModel { get; } = FindTinyModel();

    public static Passage[] Passages { get; } =
    [
        .. new[]
        {
            "머신러닝은 데이터에서 규칙을 배우는 인공지능 분야입니다.",
            "딥러닝은 여러 층의 신경망을 쓰는 머신러닝입니다.",
            "오늘은 비가 오고 바람이 붑니다.",
            "Machine learning finds patterns in data.",
            "The train leaves at seven from platform four.",
            "서울의 인구는 약 천만 명입니다.",
            "지도 학습은 정답이 붙은 데이터로 모델을 학습합니다.",
            "강화 학습은 보상을 통해 행동을 배웁니다.",
            "김치찌개는 김치와 돼지고기로 끓입니다.",
            "Cross-encoders read the query and the passage together.",
            "A vector index finds the nearest embeddings quickly.",
            "머신러닝 모델은 새로운 데이터에 대해 예측을 합니다.",
        }.Select((text, i) => new Passage { Key = $"p{i}", Text = text }),
    ];

    private static string FindTinyModel()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Reranker.sln")))
            {
                return Path.Combine(dir.FullName, "models", "tiny-xlmr-reranker");
            }
        }

        throw new InvalidOperationException("Reranker.sln not found above " + AppContext.BaseDirectory);
    }
}
