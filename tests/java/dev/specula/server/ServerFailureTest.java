package dev.specula.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.specula.engine.KvCache;
import dev.specula.engine.Transformer;
import dev.specula.model.ModelConfig;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An exception while decoding one request fails that request alone (a 500 with an error object,
 * or an error event when streaming); the requests decoding beside it in the same batched pass
 * finish with their right text and the server goes on serving.
 */
class ServerFailureTest {
    /** The token id whose evaluation makes the model throw. */
    static final int POISON = 499;

    /** The stories model, except that a pass holding {@link #POISON} throws, as a backend bug would. */
    record Poisoned(Transformer model) implements Transformer {
        public ModelConfig config() {
            return model.config();
        }

        public KvCache newCache(int capacity, KvCache.Precision precision) {
            return model.newCache(capacity, precision);
        }

        public float[][] forward(int[] tokens, KvCache cache, boolean allLogits) {
            for (int t : tokens) if (t == POISON) throw new IllegalStateException("poisoned token " + t);
            return model.forward(tokens, cache, allLogits);
        }

        public float[][] forwardBatch(int[][] tokens, KvCache[] caches) {
            for (int[] seq : tokens) for (int t : seq) if (t == POISON) throw new IllegalStateException("poisoned token " + t);
            return model.forwardBatch(tokens, caches);
        }

        public String backendName() {
            return model.backendName();
        }

        public void close() {}
    }

    @Test
    void aFailingRequestFailsAloneAndTheOthersInItsBatchFinish() throws Exception {
        try (TestServer s = new TestServer(2, 4, 512, null, null, Poisoned::new)) {
            String good = "{\"prompt\": \"Once upon a time\", \"n_predict\": 400, \"temperature\": 0}";
            String expected = s.json("/completion", good).get("content").asText();
            CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> {
                try {
                    return s.post("/completion", good);
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long end = System.currentTimeMillis() + 5000;
            while (s.server.busySlots() == 0) {
                assertTrue(System.currentTimeMillis() < end, "the first request never started");
                Thread.sleep(1);
            }
            // Joins the running request's batch, whose pass then fails.
            HttpResponse<String> bad = s.post("/completion", "{\"prompt\": [1, 20, " + POISON + "], \"n_predict\": 8}");
            assertEquals(500, bad.statusCode(), bad.body());
            JsonNode e = TestServer.parse(bad.body()).get("error");
            assertEquals("server_error", e.get("type").asText());
            assertTrue(e.get("message").asText().contains("poisoned token 499"), e.toString());
            HttpResponse<String> r = running.get(30, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(expected, TestServer.parse(r.body()).get("content").asText());
            assertTrue(s.metric("specula_decode_steps_total") > 0);

            // Streaming: the error arrives as the last event.
            String events = s.post("/v1/completions", "{\"prompt\": [1, " + POISON + "], \"stream\": true}").body();
            assertTrue(events.contains("\"type\":\"server_error\""), events);
            assertEquals(2, s.metric("specula_requests_total{outcome=\"failed\"}"));
            assertEquals(expected, s.json("/completion", good).get("content").asText());
            s.awaitIdle(3000);
        }
    }
}
