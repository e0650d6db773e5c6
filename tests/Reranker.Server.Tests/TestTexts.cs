namespace Reranker.Server.Tests;

internal static class TestTexts
{
    public const string Query = "머신러닝이란?";

    public static readonly string[] Passages =
    [
        "오늘 서울은 맑고 낮 최고 기온은 25도로 예상됩니다.",
        "머신러닝은 컴퓨터가 데이터에서 규칙을 스스로 배우도록 하는 인공지능의 한 분야입니다.",
        "김치찌개는 김치와 돼지고기를 넣고 끓인 한국 요리입니다.",
        "딥러닝은 여러 층의 신경망으로 학습하는 머신러닝 방법입니다.",
        "지도 학습에서는 정답이 붙은 예시로 모델을 훈련합니다.",
        "Machine learning fits a model's parameters to examples.",
        "",
        "The weather in Busan is rainy.",
    ];

    public static readonly string[] Queries = ["머신러닝이란?", "날씨", "한국 요리", "what is deep learning", "신경망 학습 방법"];

    /// <summary>About 700 characters: far more than <see cref="ServerFixture.MaxLength"/> tokens, fewer than its character limit.</summary>
    public static readonly string Long = string.Concat(Enumerable.Repeat("머신러닝은 데이터에서 규칙을 배우는 방법입니다. ", 25));
}
