package dev.specula.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.specula.TestFiles;
import dev.specula.engine.CpuTransformer;
import dev.specula.engine.Generator;
import dev.specula.engine.KvCache;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import dev.specula.tokenizer.StreamingDecoder;
import dev.specula.tokenizer.Tokenizer;
import dev.specula.tokenizer.chat.ChatTemplate;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A server on a loopback ephemeral port over stories260K, with a real HTTP client, and the Generator to compare with. */
final class TestServer implements AutoCloseable {
    static final String MODEL = "stories260K.gguf";
    /** Threads of the CPU transformer: CI has two cores, and the HTTP client and server threads need one. */
    static final int THREADS = 1;

    final GgufFile file;
    final ModelConfig config;
    final Tokenizer tokenizer;
    final CpuTransformer model;
    final InferenceServer server;
    final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final int slotContext;

    TestServer(int slots, int queue, int slotContext) throws IOException {
        this(slots, queue, slotContext, null, null);
    }

    TestServer(int slots, int queue, int slotContext, SlotDrafts drafts, dev.specula.speculative.SpeculativeDecoder.Options options) throws IOException {
        this(slots, queue, slotContext, drafts, options, m -> m);
    }

    /** With {@code wrap} around the model the server drives (tests that make it fail). */
    TestServer(int slots, int queue, int slotContext, SlotDrafts drafts, dev.specula.speculative.SpeculativeDecoder.Options options,
               java.util.function.UnaryOperator<dev.specula.engine.Transformer> wrap) throws IOException {
        file = GgufFile.open(TestFiles.model(MODEL));
        config = ModelConfig.from(file);
        tokenizer = Tokenizer.fromGguf(file);
        model = new CpuTransformer(config, new ModelWeights(file, config), THREADS, false);
        this.slotContext = slotContext;
        server = InferenceServer.start(new InferenceServer.Config("127.0.0.1", 0, slots, queue, 512, "stories"), wrap.apply(model), tokenizer,
                ChatTemplate.fromGgufOrChatml(file.metadata()), slotContext, KvCache.Precision.F16, drafts, options);
    }

    URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.port() + path);
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** POSTs and parses a 200 answer. */
    JsonNode json(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = post(path, body);
        assertEquals(200, r.statusCode(), r.body());
        return Json.MAPPER.readTree(r.body());
    }

    /** The data payloads of a server-sent-event answer, in order ("[DONE]" included as text). */
    List<String> events(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = post(path, body);
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"), r.headers().toString());
        List<String> data = new ArrayList<>();
        for (String line : r.body().split("\n")) if (line.startsWith("data: ")) data.add(line.substring(6));
        return data;
    }

    static JsonNode parse(String s) throws IOException {
        return Json.MAPPER.readTree(s);
    }

    JsonNode health() throws IOException, InterruptedException {
        return parse(get("/health").body());
    }

    /** What the Generator alone produces, greedily, for these prompt tokens: the reference for the server's text. */
    String generatorText(int[] prompt, int n) {
        try (CpuTransformer m = new CpuTransformer(config, new ModelWeights(file, config), THREADS, false);
             KvCache cache = m.newCache(slotContext, KvCache.Precision.F16)) {
            Generator g = new Generator(m, cache, 512);
            Sampler sampler = new Sampler(SamplingParams.greedy());
            for (int id : prompt) sampler.accept(id);
            g.setSequence(prompt);
            StreamingDecoder d = tokenizer.continuationDecoder(false);
            StringBuilder text = new StringBuilder();
            g.generate(sampler, n, tokenizer.vocabulary()::isEndOfGeneration, id -> {
                if (!tokenizer.vocabulary().isEndOfGeneration(id)) text.append(d.accept(id));
            });
            return text.append(d.flush()).toString();
        }
    }

    /** Waits until every slot is idle and nothing is queued; fails after {@code millis}. */
    void awaitIdle(long millis) throws Exception {
        long end = System.currentTimeMillis() + millis;
        while (server.busySlots() != 0 || server.queuedRequests() != 0) {
            if (System.currentTimeMillis() > end) fail("still busy after " + millis + " ms: " + health());
            Thread.sleep(10);
        }
    }

    /** The value of one line of /metrics. */
    double metric(String name) throws IOException, InterruptedException {
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1));
        }
        throw new AssertionError("no metric " + name);
    }

    @Override
    public void close() {
        server.close();
        model.close();
        file.close();
    }
}
