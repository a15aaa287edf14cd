package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import org.junit.jupiter.api.Test;

class KvCacheTest {
    @Test
    void truncatingAndRecomputingGivesTheSameLogitsAsNeverHavingGoneAhead() {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            ModelConfig c = ModelConfig.from(f);
            CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 2, true);
            int[] prompt = {1, 403, 407, 261, 378};
            KvCache a = new KvCache(c, 64, KvCache.Precision.F16), b = new KvCache(c, 64, KvCache.Precision.F16);
            m.forward(prompt, a, false);
            m.forward(new int[] {100, 200, 300}, a, false); // a rejected draft
            a.truncate(prompt.length);
            float[] rolledBack = m.forward(new int[] {432}, a, false)[0];
            m.forward(prompt, b, false);
            float[] direct = m.forward(new int[] {432}, b, false)[0];
            // Not bit-equal: the Vector API sums in another order once the JIT has compiled it, and
            // five layers amplify that. Attending to a stale draft position would be off by far more.
            assertArrayEquals(direct, rolledBack, ReferenceLogitsTest.LOGIT_TOLERANCE);
            assertEquals(prompt.length + 1, a.length());
        }
    }

    @Test
    void batchedPrefillEqualsOneTokenAtATime() {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K-q8_0.gguf"))) {
            ModelConfig c = ModelConfig.from(f);
            CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 2, false);
            int[] prompt = {1, 403, 407, 261, 378, 432, 383};
            KvCache a = new KvCache(c, 64, KvCache.Precision.F32), b = new KvCache(c, 64, KvCache.Precision.F32);
            float[][] batched = m.forward(prompt, a, true);
            for (int i = 0; i < prompt.length; i++) {
                float[] single = m.forward(new int[] {prompt[i]}, b, false)[0];
                assertArrayEquals(batched[i], single, 1e-4f, "position " + i);
            }
        }
    }

    @Test
    void overflowingTheContextIsAClearError() {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            ModelConfig c = ModelConfig.from(f);
            CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 1, true);
            KvCache cache = new KvCache(c, 4, KvCache.Precision.F16);
            var e = assertThrows(IllegalStateException.class, () -> m.forward(new int[] {1, 2, 3, 4, 5}, cache, false));
            assertTrue(e.getMessage().contains("context size 4 exceeded"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cache.truncate(1));
        }
    }
}
