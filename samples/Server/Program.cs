using Reranker.Server;

// HTTP reranking service: POST /rerank (Hugging Face TEI format), POST /v1/rerank (Cohere/Jina format),
// GET /health, GET /info. Listens on http://127.0.0.1:8080 unless --urls says otherwise. See README.md.
await using var app = RerankServer.CreateApp(args);
await app.RunAsync();
