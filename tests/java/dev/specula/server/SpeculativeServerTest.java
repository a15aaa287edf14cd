package dev.specula.server;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.specula.TestFiles;
import dev.specula.engine.CpuTransformer;
import dev.specula.engine.KvCache;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.SamplingParams;
import dev.specula.speculative.DraftSource;
import dev.specula.speculative.ModelDraft;
import dev.specula.speculative.SpeculativeDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Speculative slots: each with its own draft cache over one shared draft model; the slots'
 * drafts are verified together in one target pass per step, and at temperature 0 every slot's
 * text is still the target's own greedy text.
 */
class SpeculativeServerTest {
    /** The shared draft model with one KV cache per slot. */
    static final class Drafts implements SlotDrafts {
        final GgufFile file = GgufFile.open(TestFiles.model("stories260K-draft-4layer-f32.gguf"));
        final ModelConfig config = ModelConfig.from(file);
        final CpuTransformer model = new CpuTransformer(config, new ModelWeights(file, config), 1, false);
        final KvCache[] caches;

        Drafts(int slots, int context) {
            caches = new KvCache[slots];
            for (int i = 0; i < slots; i++) caches[i] = model.newCache(context, KvCache.Precision.F16);
        }

        public DraftSource open(int slot, SamplingParams params) {
            return new ModelDraft(model, caches[slot], params, 0.5f);
        }

        public String describe() {
            return "draft model";
        }

        public void close() {
            model.close();
            file.close();
        }
    }

    @Test
    void fourSpeculativeSlotsVerifyTogetherAndKeepTheTargetsGreedyText() throws Exception {
        String[] prompts = ServerConcurrencyTest.PROMPTS;
        try (Drafts drafts = new Drafts(4, 512);
             TestServer s = new TestServer(4, 16, 512, drafts, new SpeculativeDecoder.Options(6, 0, false));
             ExecutorService pool = Executors.newFixedThreadPool(prompts.length)) {
            List<Future<JsonNode>> answers = new ArrayList<>();
            for (String p : prompts) {
                answers.add(pool.submit(() -> s.json("/completion", "{\"prompt\": \"" + p + "\", \"n_predict\": 32, \"temperature\": 0}")));
            }
            long draftN = 0;
            for (int i = 0; i < prompts.length; i++) {
                JsonNode r = answers.get(i).get(60, TimeUnit.SECONDS);
                assertEquals(s.generatorText(s.tokenizer.encode(prompts[i], true, true), 32), r.get("content").asText(), prompts[i]);
                draftN += r.get("timings").get("draft_n").asLong();
                assertTrue(r.get("timings").get("draft_n_accepted").asLong() <= r.get("timings").get("draft_n").asLong());
            }
            assertTrue(draftN > 0, "the draft proposed nothing");
            double steps = s.metric("specula_decode_steps_total"), rounds = s.metric("specula_speculative_rounds_total");
            assertTrue(steps < 0.6 * rounds, steps + " verification passes for " + rounds + " rounds: the slots did not verify together");
            assertTrue(s.metric("specula_draft_acceptance_ratio") > 0);
            s.awaitIdle(5000);
        }
    }
}
