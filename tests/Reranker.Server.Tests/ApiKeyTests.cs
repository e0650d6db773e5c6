using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Reranker.Server.Tests;

/// <summary>
/// <c>--api-key</c> over real HTTP on loopback: no key, a wrong key and a right one on every endpoint, the probes open,
/// 401s counted in the request metrics, no key in any log line or metric; and HTTPS with a certificate from a file.
/// </summary>
[Collection(nameof(MetricsCollection))]
public sealed class ApiKeyTests : IAsyncLifetime
{
    // Two keys at once, as during a rotation.
    private const string OldKey = "old-5f1c0e9a4b7d2c68";
    private const string NewKey = "new-93ab27e0d4c1f6b8";
    private const string WrongKey = "old-5f1c0e9a4b7d2c69"; // the old key with its last character changed

    private readonly CapturingLoggerProvider _logs = new();
    private TestServer _server = null!;

    private static readonly string[] Guarded = ["/rerank", "/v1/rerank", "/info", RerankServer.MetricsPath];

    public async Task InitializeAsync()
    {
        // Waits on the readiness probe, which answers without a key.
        _server = await TestServer.StartAsync(_logs.Hooks, $"Reranker:ApiKey={OldKey}, {NewKey}");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Without_a_key_every_endpoint_but_the_probes_is_401_in_the_error_shape()
    {
        foreach (var path in Guarded)
        {
            using var response = await SendAsync(path, authorization: null);
            await AssertUnauthorizedAsync(response, path, "Bearer");
        }

        // Not a Bearer header, or an empty one, is no key either.
        foreach (var header in new[] { "Basic b2xkOmtleQ==", "Bearer", "Bearer   ", OldKey })
        {
            using var request = Request("/rerank");
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await _server.Client.SendAsync(request);
            await AssertUnauthorizedAsync(response, $"/rerank with 'Authorization: {header}'", "Bearer");
        }

        foreach (var probe in new[] { RerankServer.LivenessPath, RerankServer.ReadinessPath, "/ping" })
        {
            using var response = await _server.Client.GetAsync(probe);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_wrong_key_is_401_and_either_right_key_is_let_through()
    {
        foreach (var wrong in new[] { WrongKey, OldKey + "x", OldKey[..^1], NewKey.ToUpperInvariant(), $"{OldKey},{NewKey}" })
        {
            using var response = await SendAsync("/rerank", "Bearer " + wrong);
            await AssertUnauthorizedAsync(response, "/rerank with a wrong key", "Bearer error=\"invalid_token\"");
        }

        foreach (var key in new[] { OldKey, NewKey })
        {
            foreach (var path in Guarded)
            {
                using var response = await SendAsync(path, "Bearer " + key);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        // The scheme is case-insensitive (RFC 9110), the key is not.
        using var lower = await SendAsync("/v1/rerank", "bearer " + NewKey);
        Assert.Equal(HttpStatusCode.OK, lower.StatusCode);
        using var info = JsonDocument.Parse(await (await SendAsync("/info", "Bearer " + NewKey)).Content.ReadAsStringAsync());
        Assert.True(info.RootElement.GetProperty("api_key_required").GetBoolean());
    }

    [Fact]
    public async Task Refusals_are_counted_with_their_own_outcome_and_no_key_is_logged_or_labelled()
    {
        for (var i = 0; i < 3; i++)
        {
            (await SendAsync("/rerank", i == 0 ? null : "Bearer " + WrongKey)).Dispose();
        }

        (await SendAsync("/v1/rerank", "Bearer " + WrongKey)).Dispose();
        (await SendAsync("/info", null)).Dispose();
        (await SendAsync("/rerank", "Bearer " + OldKey)).Dispose();

        using var scrape = await SendAsync(RerankServer.MetricsPath, "Bearer " + NewKey);
        var metrics = await scrape.Content.ReadAsStringAsync();

        Assert.Equal(3, PrometheusText.Value(metrics, "reranker_server_requests_total", "endpoint=\"rerank\"", "outcome=\"unauthorized\""));
        Assert.Equal(1, PrometheusText.Value(metrics, "reranker_server_requests_total", "endpoint=\"v1/rerank\"", "outcome=\"unauthorized\""));
        Assert.Equal(1, PrometheusText.Value(metrics, "reranker_server_requests_total", "endpoint=\"rerank\"", "outcome=\"success\""));
        Assert.Equal(3, PrometheusText.Value(metrics, "reranker_server_request_duration_seconds_count", "endpoint=\"rerank\"", "outcome=\"unauthorized\""));
        // ASP.NET Core's own counts every path, /info included.
        Assert.Equal(5, PrometheusText.Sum(metrics, "http_server_request_duration_seconds_count") - PrometheusText.Samples(metrics, "http_server_request_duration_seconds_count").Where(s => !s.Labels.Contains("http_response_status_code=\"401\"", StringComparison.Ordinal)).Sum(s => s.Value));

        // The refusals were logged (Information), and no key, right or wrong, is in any log entry or in the metrics.
        Assert.Contains(_logs.Entries, e => e.Message.Contains("401", StringComparison.Ordinal));
        foreach (var key in new[] { OldKey, NewKey, WrongKey })
        {
            Assert.DoesNotContain(_logs.Entries, e => e.Message.Contains(key, StringComparison.Ordinal));
            Assert.DoesNotContain(key, metrics, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(_logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Theory]
    [InlineData("k3y-0ne,,k3y-thr33", "API key 2 of 3 is empty")]
    [InlineData(" ", "the API key is empty")]
    [InlineData("g00d-k3y,b4d k3y", "API key 2 of 2 has a character other than visible ASCII")]
    [InlineData("ключ", "the API key has a character other than visible ASCII")]
    public void A_bad_key_setting_stops_the_start_without_showing_the_key(string setting, string expected)
    {
        var e = Assert.Throws<ServerStartupException>(() => RerankServer.CreateApp(["--model", TestPaths.TinyModel, $"--Reranker:ApiKey={setting}"]));

        Assert.Equal(ServerStartupException.ExitUsage, e.ExitCode);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        foreach (var part in setting.Split(',').Where(p => p.Trim().Length > 0))
        {
            Assert.DoesNotContain(part.Trim(), e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Serve_over_HTTPS_with_a_certificate_file_and_keys_from_the_command_line()
    {
        // What a user types: --urls https://... and Kestrel's certificate settings (PEM certificate and key files),
        // with a self-signed certificate for 127.0.0.1 made here; --api-key twice.
        var folder = Directory.CreateTempSubdirectory("reranker-tls-");
        try
        {
            using var rsa = RSA.Create(2048);
            var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // server authentication
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            var certPath = Path.Combine(folder.FullName, "tls.crt");
            var keyPath = Path.Combine(folder.FullName, "tls.key");
            await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyPath, rsa.ExportPkcs8PrivateKeyPem());

            // The client trusts exactly this certificate (pinned), and says whether it was shown one.
            var presented = 0;
            using var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, serverCertificate, _, errors) =>
                {
                    Interlocked.Increment(ref presented);
                    return serverCertificate is not null && serverCertificate.RawData.AsSpan().SequenceEqual(certificate.RawData)
                        && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;
                },
            };
            await using var serve = ServeProcess.Start(
                [
                    "--urls", "https://127.0.0.1:0", "--model", TestPaths.TinyModel,
                    "--Kestrel:Certificates:Default:Path", certPath, "--Kestrel:Certificates:Default:KeyPath", keyPath,
                    "--api-key", OldKey, "--api-key", NewKey,
                ],
                handler: handler);
            var address = await serve.AddressAsync();
            Assert.Equal("https", address.Scheme);
            await serve.WaitUntilReadyAsync();

            var body = TestServer.Json(new { query = TestTexts.Query, texts = TestTexts.Passages });
            using (var refused = await serve.Client.PostAsync("/rerank", new StringContent(body, Encoding.UTF8, "application/json")))
            {
                await AssertUnauthorizedAsync(refused, "/rerank over HTTPS without a key", "Bearer");
            }

            foreach (var key in new[] { OldKey, NewKey })
            {
                using var message = new HttpRequestMessage(HttpMethod.Post, "/rerank") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
                using var ok = await serve.Client.SendAsync(message);
                Assert.Equal(TestTexts.Passages.Length, (await RerankEndpointTests.ReadArrayAsync(ok, HttpStatusCode.OK)).Length);
            }

            Assert.True(presented > 0, "the client was never shown a server certificate");
            // Plain HTTP to the HTTPS port gets no answer it can read.
            using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{address.Port}"), Timeout = TimeSpan.FromSeconds(30) };
            var plainAnswer = await Record.ExceptionAsync(() => plain.GetAsync(RerankServer.LivenessPath));
            Assert.True(plainAnswer is HttpRequestException, $"plain HTTP to the HTTPS port: {plainAnswer}");
            foreach (var key in new[] { OldKey, NewKey })
            {
                Assert.DoesNotContain(key, serve.Stdout + serve.Stderr, StringComparison.Ordinal);
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_certificate_file_that_is_not_there_stops_the_start_with_a_hint()
    {
        var missing = Path.Combine(Path.GetTempPath(), "reranker-no-such-cert-" + Guid.NewGuid().ToString("N") + ".pem");
        await using var app = RerankServer.CreateApp(
            ["--urls", "https://127.0.0.1:0", "--model", TestPaths.TinyModel, $"--Kestrel:Certificates:Default:Path={missing}"]);

        var e = await Assert.ThrowsAsync<ServerStartupException>(() => RerankServer.StartAsync(app));

        Assert.Equal(ServerStartupException.ExitFailure, e.ExitCode);
        Assert.Contains("--Kestrel:Certificates:Default:Path", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task The_key_can_come_from_the_environment()
    {
        await using var serve = ServeProcess.Start(
            ["--urls", "http://127.0.0.1:0", "--model", TestPaths.TinyModel],
            new Dictionary<string, string?> { ["Reranker__ApiKey"] = NewKey });
        await serve.WaitUntilReadyAsync();

        using (var refused = await serve.Client.GetAsync("/info"))
        {
            await AssertUnauthorizedAsync(refused, "/info without a key", "Bearer");
        }

        using var message = new HttpRequestMessage(HttpMethod.Get, "/info");
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", NewKey);
        using var ok = await serve.Client.SendAsync(message);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    private HttpRequestMessage Request(string path) =>
        path is "/rerank" or "/v1/rerank"
            ? new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = new StringContent(
                    path == "/rerank"
                        ? TestServer.Json(new { query = TestTexts.Query, texts = TestTexts.Passages })
                        : TestServer.Json(new { query = TestTexts.Query, documents = TestTexts.Passages }),
                    Encoding.UTF8,
                    "application/json"),
            }
            : new HttpRequestMessage(HttpMethod.Get, path);

    private async Task<HttpResponseMessage> SendAsync(string path, string? authorization)
    {
        var request = Request(path);
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        return await _server.Client.SendAsync(request);
    }

    private static async Task AssertUnauthorizedAsync(HttpResponseMessage response, string what, string challenge)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{what}: {response.StatusCode} {text}");
        Assert.Equal(challenge, string.Join(", ", response.Headers.WwwAuthenticate.Select(h => h.ToString())));
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("unauthorized", json.RootElement.GetProperty("error_type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(json.RootElement.GetProperty("error").GetString()));
    }
}
