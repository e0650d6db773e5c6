using Reranker;

// The model directory: an ONNX export (docs/CONFIGURATION.md, "Model directories"), or the tiny test model bundled
// with this repository.
var modelDirectory = args.Length > 0 ? args[0] : FindBundledModel();

// Loading a model is expensive: create one CrossEncoder and reuse it. It is safe to share between threads.
using var reranker = CrossEncoder.Create(modelDirectory);

// Score pairs: one sigmoid score in [0, 1] per pair, in input order (the model card's example).
(string Query, string Document)[] pairs =
[
    ("나는 너를 싫어해", "나는 너를 사랑해"),
    ("나는 너를 싫어해", "너에 대한 나의 감정은 사랑 일 수도 있어"),
];
var scores = reranker.Predict(pairs);
for (var i = 0; i < pairs.Length; i++)
{
    Console.WriteLine($"{scores[i]:F4}  {pairs[i].Query} / {pairs[i].Document}");
}

// Rank passages for one query: best first, each with its index in the input list.
var query = "머신러닝이란?";
string[] passages =
[
    "오늘 서울은 맑고 낮 최고 기온은 25도로 예상됩니다.",
    "머신러닝은 컴퓨터가 데이터에서 규칙을 스스로 배우도록 하는 인공지능의 한 분야입니다.",
    "김치찌개는 김치와 돼지고기를 넣고 끓인 한국 요리입니다.",
    "딥러닝은 여러 층의 신경망으로 학습하는 머신러닝 방법입니다.",
    "지도 학습에서는 정답이 붙은 예시로 모델을 훈련합니다.",
];
Console.WriteLine();
Console.WriteLine($"Query: {query}");
foreach (var result in reranker.Rank(query, passages))
{
    var truncated = result.IsTruncated ? " (truncated)" : string.Empty;
    Console.WriteLine($"{result.Score:F4}  [{result.Index}] {passages[result.Index]}{truncated}");
}

static string FindBundledModel()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "models", "tiny-xlmr-reranker");
        if (File.Exists(Path.Combine(dir.FullName, "Reranker.sln")) && Directory.Exists(candidate))
        {
            return candidate;
        }
    }

    throw new DirectoryNotFoundException("Bundled model 'models/tiny-xlmr-reranker' not found; pass a model directory as the first argument.");
}
