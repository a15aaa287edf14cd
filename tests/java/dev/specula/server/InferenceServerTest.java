package dev.specula.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.specula.tokenizer.chat.ChatMessage;
import dev.specula.tokenizer.chat.ChatTemplate;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The endpoints one request at a time, over HTTP on loopback: each answers whole and streamed
 * with the same text, and at temperature 0 that text is the Generator's own; the timings add up;
 * stop sequences, seeds and n_probs behave as llama.cpp's; every bad input is a 400 with an
 * OpenAI-style error object, and the server keeps serving.
 */
class InferenceServerTest {
    static final String PROMPT = "Once upon a time";
    static TestServer s;

    @BeforeAll
    static void start() throws Exception {
        s = new TestServer(2, 8, 512);
    }

    @AfterAll
    static void stop() {
        if (s != null) s.close();
    }

    private static int[] promptTokens(String text) {
        return s.tokenizer.encode(text, true, true);
    }

    @Test
    void completionAtTemperatureZeroIsTheGeneratorsTextWithConsistentTimings() throws Exception {
        JsonNode r = s.json("/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 24, \"temperature\": 0}");
        assertEquals(s.generatorText(promptTokens(PROMPT), 24), r.get("content").asText());
        assertTrue(r.get("stop").asBoolean());
        assertEquals("limit", r.get("stop_type").asText());
        assertTrue(r.get("stopped_limit").asBoolean());
        assertFalse(r.get("truncated").asBoolean(), "n_predict, not the context, ended it");
        assertEquals(24, r.get("tokens_predicted").asInt());
        assertEquals(24, r.get("tokens").size());
        // The text continues the prompt: prompt + content is the decoding of all the tokens.
        int[] all = java.util.stream.IntStream.concat(java.util.Arrays.stream(promptTokens(PROMPT)),
                java.util.stream.StreamSupport.stream(r.get("tokens").spliterator(), false).mapToInt(JsonNode::asInt)).toArray();
        assertEquals(s.tokenizer.decode(all), PROMPT + r.get("content").asText());
        assertTrue(r.get("content").asText().startsWith(" ") || r.get("content").asText().startsWith(","), r.get("content").asText());
        assertEquals(promptTokens(PROMPT).length, r.get("tokens_evaluated").asInt());
        JsonNode t = r.get("timings");
        for (String f : List.of("prompt_n", "prompt_ms", "prompt_per_token_ms", "prompt_per_second", "predicted_n", "predicted_ms",
                "predicted_per_token_ms", "predicted_per_second", "draft_n", "draft_n_accepted")) {
            assertTrue(t.has(f) && t.get(f).isNumber(), f + " in " + t);
        }
        int promptN = t.get("prompt_n").asInt();
        assertEquals(promptTokens(PROMPT).length - r.get("tokens_cached").asInt(), promptN);
        assertEquals(24, t.get("predicted_n").asInt());
        assertEquals(t.get("predicted_ms").asDouble() / 24, t.get("predicted_per_token_ms").asDouble(), 1e-9);
        assertEquals(24e3 / t.get("predicted_ms").asDouble(), t.get("predicted_per_second").asDouble(), 1e-6);
        assertEquals(t.get("prompt_ms").asDouble() / promptN, t.get("prompt_per_token_ms").asDouble(), 1e-9);
        assertTrue(t.get("prompt_ms").asDouble() > 0 && t.get("predicted_ms").asDouble() > 0, t.toString());
        assertEquals(0, t.get("draft_n").asInt());
    }

    @Test
    void completionStreamsPiecesThatJoinToTheWholeAnswerThenAFinalEventWithTimings() throws Exception {
        String body = "{\"prompt\": \"Tom and Lily went to the park.\", \"n_predict\": 20, \"temperature\": 0";
        String whole = s.json("/completion", body + "}").get("content").asText();
        List<String> events = s.events("/completion", body + ", \"stream\": true}");
        StringBuilder text = new StringBuilder();
        int tokens = 0;
        for (int i = 0; i < events.size() - 1; i++) {
            JsonNode e = TestServer.parse(events.get(i));
            assertFalse(e.get("stop").asBoolean());
            text.append(e.get("content").asText());
            tokens += e.get("tokens").size();
        }
        JsonNode last = TestServer.parse(events.getLast());
        assertTrue(last.get("stop").asBoolean(), events.getLast());
        assertEquals(20, last.get("timings").get("predicted_n").asInt());
        assertEquals(20, tokens);
        assertEquals(whole, text.toString());
        assertEquals(s.generatorText(promptTokens("Tom and Lily went to the park."), 20), whole);
    }

    @Test
    void openAiCompletionsAnswerWholeAndStreamedWithUsageAndDone() throws Exception {
        String body = "{\"model\": \"x\", \"prompt\": \"" + PROMPT + "\", \"max_tokens\": 16, \"temperature\": 0";
        JsonNode r = s.json("/v1/completions", body + "}");
        assertEquals("text_completion", r.get("object").asText());
        assertTrue(r.get("id").asText().startsWith("cmpl-"));
        JsonNode choice = r.get("choices").get(0);
        String text = choice.get("text").asText();
        assertEquals(s.generatorText(promptTokens(PROMPT), 16), text);
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals(16, r.get("usage").get("completion_tokens").asInt());
        assertEquals(promptTokens(PROMPT).length, r.get("usage").get("prompt_tokens").asInt());
        assertEquals(16 + promptTokens(PROMPT).length, r.get("usage").get("total_tokens").asInt());

        List<String> events = s.events("/v1/completions", body + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        assertEquals("[DONE]", events.getLast());
        StringBuilder streamed = new StringBuilder();
        String finish = null;
        for (String e : events.subList(0, events.size() - 2)) {
            JsonNode c = TestServer.parse(e).get("choices").get(0);
            streamed.append(c.get("text").asText());
            if (!c.get("finish_reason").isNull()) finish = c.get("finish_reason").asText();
        }
        assertEquals(text, streamed.toString());
        assertEquals("length", finish);
        JsonNode usage = TestServer.parse(events.get(events.size() - 2));
        assertEquals(0, usage.get("choices").size());
        assertEquals(16, usage.get("usage").get("completion_tokens").asInt());
    }

    @Test
    void chatCompletionsRenderTheTemplateAndAnswerWholeAndStreamed() throws Exception {
        String body = "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Tell a story\"}],"
                + " \"max_tokens\": 12, \"temperature\": 0, \"seed\": 1";
        JsonNode r = s.json("/v1/chat/completions", body + "}");
        assertEquals("chat.completion", r.get("object").asText());
        JsonNode message = r.get("choices").get(0).get("message");
        assertEquals("assistant", message.get("role").asText());
        String rendered = ChatTemplate.fromGgufOrChatml(s.file.metadata())
                .render(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Tell a story")), true);
        int[] prompt = s.tokenizer.encode(rendered, false, true);
        assertEquals(s.generatorText(prompt, 12), message.get("content").asText());
        assertEquals(prompt.length, r.get("usage").get("prompt_tokens").asInt());

        List<String> events = s.events("/v1/chat/completions", body + ", \"stream\": true}");
        assertEquals("[DONE]", events.getLast());
        JsonNode first = TestServer.parse(events.getFirst());
        assertEquals("chat.completion.chunk", first.get("object").asText());
        assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
        StringBuilder streamed = new StringBuilder();
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode delta = TestServer.parse(e).get("choices").get(0).get("delta");
            if (delta.has("content")) streamed.append(delta.get("content").asText());
        }
        assertEquals(message.get("content").asText(), streamed.toString());
        JsonNode end = TestServer.parse(events.get(events.size() - 2));
        assertEquals("length", end.get("choices").get(0).get("finish_reason").asText());
        assertEquals(12, end.get("timings").get("predicted_n").asInt());
    }

    @Test
    void aStopSequenceEndsTheTextBeforeItWholeAndStreamed() throws Exception {
        String full = s.json("/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 30, \"temperature\": 0}").get("content").asText();
        // A stop sequence from the middle of the greedy text, so that it must be found (and held back while streaming).
        int at = full.indexOf(' ', full.length() / 2);
        String stop = full.substring(at, at + 4);
        String expected = full.substring(0, full.indexOf(stop));
        String body = "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 30, \"temperature\": 0, \"stop\": [\"zzz\", \"" + stop + "\"]";
        JsonNode r = s.json("/completion", body + "}");
        assertEquals(expected, r.get("content").asText());
        assertEquals("word", r.get("stop_type").asText());
        assertEquals(stop, r.get("stopping_word").asText());
        StringBuilder streamed = new StringBuilder();
        for (String e : s.events("/completion", body + ", \"stream\": true}")) streamed.append(TestServer.parse(e).get("content").asText());
        assertEquals(expected, streamed.toString());
        JsonNode chat = s.json("/v1/completions", "{\"prompt\": \"" + PROMPT + "\", \"max_tokens\": 30, \"temperature\": 0, \"stop\": \"" + stop + "\"}");
        assertEquals(expected, chat.get("choices").get(0).get("text").asText());
        assertEquals("stop", chat.get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void ignoreEosGeneratesUntilTheContextIsFull() throws Exception {
        int promptLength = promptTokens(PROMPT).length;
        JsonNode plain = s.json("/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": -1, \"temperature\": 0}");
        JsonNode ignoring = s.json("/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": -1, \"temperature\": 0, \"ignore_eos\": true}");
        // Generation stops when the next token no longer fits: the last sampled one is not fed back.
        assertEquals(512 - promptLength + 1, ignoring.get("tokens_predicted").asInt(), ignoring.get("stop_type").asText());
        assertEquals("limit", ignoring.get("stop_type").asText());
        assertTrue(ignoring.get("truncated").asBoolean(), "the context ran out");
        if (plain.get("stop_type").asText().equals("eos")) {
            assertTrue(plain.get("tokens_predicted").asInt() < ignoring.get("tokens_predicted").asInt());
            assertTrue(ignoring.get("content").asText().startsWith(plain.get("content").asText()));
        }
    }

    @Test
    void aFollowUpPromptReusesTheSlotHoldingItsPrefixAndAnUnrelatedOneDoesNotEvictIt() throws Exception {
        String first = "Tom and Lily went to the park. They saw a big dog and a small cat. The dog";
        JsonNode a = s.json("/completion", "{\"prompt\": \"" + first + "\", \"n_predict\": 8, \"temperature\": 0}");
        JsonNode other = s.json("/completion", "{\"prompt\": \"Hi\", \"n_predict\": 2, \"temperature\": 0}");
        assertNotEquals(a.get("id_slot").asInt(), other.get("id_slot").asInt(), "a two-token match must not take the slot holding a story");
        String followUp = first + a.get("content").asText() + " Then";
        JsonNode b = s.json("/completion", "{\"prompt\": \"" + followUp.replace("\n", "\\n").replace("\"", "\\\"") + "\", \"n_predict\": 4}");
        assertEquals(a.get("id_slot").asInt(), b.get("id_slot").asInt());
        int cached = b.get("tokens_cached").asInt();
        assertTrue(cached >= promptTokens(first).length - 2, cached + " tokens reused of " + promptTokens(followUp).length);
        assertEquals(promptTokens(followUp).length - cached, b.get("timings").get("prompt_n").asInt());
    }

    @Test
    void theSameSeedGivesTheSameSampledText() throws Exception {
        String body = "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 24, \"temperature\": 1.0, \"top_k\": 0, \"top_p\": 1, \"min_p\": 0, \"seed\": ";
        String a = s.json("/completion", body + "7}").get("content").asText();
        assertEquals(a, s.json("/completion", body + "7}").get("content").asText());
        assertNotEquals(a, s.json("/completion", body + "8}").get("content").asText());
    }

    @Test
    void nProbsReportsTheMostLikelyTokensWithEachGeneratedOne() throws Exception {
        JsonNode r = s.json("/completion", "{\"prompt\": \"" + PROMPT + "\", \"n_predict\": 5, \"temperature\": 0, \"n_probs\": 3}");
        JsonNode probs = r.get("completion_probabilities");
        assertEquals(5, probs.size());
        for (int i = 0; i < 5; i++) {
            JsonNode p = probs.get(i), top = p.get("top_logprobs");
            assertEquals(r.get("tokens").get(i).asInt(), p.get("id").asInt());
            assertEquals(3, top.size());
            // Greedy: the generated token is the most likely one.
            assertEquals(p.get("id").asInt(), top.get(0).get("id").asInt());
            assertEquals(p.get("logprob").asDouble(), top.get(0).get("logprob").asDouble(), 1e-9);
            assertTrue(top.get(0).get("logprob").asDouble() >= top.get(1).get("logprob").asDouble());
            assertTrue(top.get(2).get("logprob").asDouble() < 0);
        }
        JsonNode chat = s.json("/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 3,"
                + " \"temperature\": 0, \"logprobs\": true, \"top_logprobs\": 2}");
        assertEquals(3, chat.get("choices").get(0).get("logprobs").get("content").size());
    }

    @Test
    void modelsHealthAndMetricsDescribeTheServer() throws Exception {
        JsonNode models = TestServer.parse(s.get("/v1/models").body());
        assertEquals("list", models.get("object").asText());
        assertEquals("stories", models.get("data").get(0).get("id").asText());
        assertEquals(512, models.get("data").get(0).get("meta").get("n_ctx_slot").asInt());
        JsonNode health = s.health();
        assertEquals("ok", health.get("status").asText());
        assertEquals(2, health.get("slots_idle").asInt() + health.get("slots_processing").asInt());
        s.json("/completion", "{\"prompt\": \"Hi\", \"n_predict\": 3}");
        HttpResponse<String> m = s.get("/metrics");
        assertTrue(m.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
        for (String name : List.of("specula_requests_total{outcome=\"completed\"}", "specula_tokens_predicted_total", "specula_prompt_tokens_total",
                "specula_predicted_tokens_seconds", "specula_draft_acceptance_ratio", "specula_requests_deferred", "specula_requests_processing")) {
            assertTrue(m.body().contains("\n" + name + " "), name + " in\n" + m.body());
        }
        assertTrue(s.metric("specula_requests_total{outcome=\"completed\"}") >= 1);
        assertTrue(s.metric("specula_tokens_predicted_total") >= 3);
        assertTrue(m.body().contains("# TYPE specula_tokens_predicted_total counter"));
    }

    @Test
    void everyBadInputIsA400WithAnOpenAiErrorObjectAndTheServerGoesOn() throws Exception {
        String tooLong = "once ".repeat(600);
        List<String[]> cases = List.of(
                new String[] {"/completion", "{\"prompt\": \"Hi\", ", "not valid JSON"},
                new String[] {"/completion", "[1, 2]", "must be a JSON object"},
                new String[] {"/completion", "", "empty"},
                new String[] {"/completion", "{\"n_predict\": 4}", "'prompt' is missing"},
                new String[] {"/completion", "{\"prompt\": 42}", "'prompt' must be"},
                new String[] {"/completion", "{\"prompt\": [1, \"a\"]}", "'prompt' must be"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"n_predict\": \"ten\"}", "'n_predict' must be an integer"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"n_predict\": 1.5}", "'n_predict' must be an integer"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"n_predict\": -2}", "'n_predict' must be -1"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"temperature\": \"hot\"}", "'temperature' must be a number"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"stream\": 1}", "'stream' must be true or false"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"stop\": 5}", "'stop' must be"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"seed\": \"x\"}", "'seed' must be an integer"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"top_p\": 2}", "top-p"},
                new String[] {"/completion", "{\"prompt\": \"Hi\", \"n_probs\": 1000}", "most likely tokens"},
                new String[] {"/completion", "{\"prompt\": \"" + tooLong + "\"}", "context"},
                new String[] {"/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": -1}", "'max_tokens' must be at least 0"},
                new String[] {"/v1/completions", "{\"prompt\": \"Hi\", \"n\": 2}", "'n' must be 1"},
                new String[] {"/v1/chat/completions", "{\"messages\": \"Hi\"}", "'messages' must be"},
                new String[] {"/v1/chat/completions", "{\"messages\": []}", "'messages' must be"},
                new String[] {"/v1/chat/completions", "{\"messages\": [{\"content\": \"Hi\"}]}", "role"},
                new String[] {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 3}]}", "content"},
                new String[] {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": -5}", "max_tokens"},
                new String[] {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"" + tooLong + "\"}]}", "context"},
                new String[] {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"stream_options\": 1}", "stream_options"},
                new String[] {"/completion", "{\"prompt\": \"Hi\"}" + "]".repeat(3), "not valid JSON"},
                new String[] {"/completion", "[".repeat(5000), "not valid JSON"});
        for (String[] c : cases) {
            HttpResponse<String> r = s.post(c[0], c[1]);
            assertEquals(400, r.statusCode(), c[0] + " " + c[1].substring(0, Math.min(60, c[1].length())) + " -> " + r.body());
            JsonNode e = TestServer.parse(r.body()).get("error");
            assertNotNull(e, r.body());
            assertEquals("invalid_request_error", e.get("type").asText());
            assertEquals(400, e.get("code").asInt());
            assertTrue(e.get("message").asText().contains(c[2]), c[2] + " in " + e.get("message"));
        }
        HttpResponse<String> unknown = s.post("/v2/nothing", "{}");
        assertEquals(404, unknown.statusCode());
        assertEquals("not_found_error", TestServer.parse(unknown.body()).get("error").get("type").asText());
        assertEquals(405, s.get("/completion").statusCode());
        // Still serving, and nothing was left busy.
        assertEquals(3, s.json("/completion", "{\"prompt\": \"Hi\", \"n_predict\": 3}").get("tokens_predicted").asInt());
        s.awaitIdle(5000);
    }
}
