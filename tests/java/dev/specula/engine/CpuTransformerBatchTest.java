package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * forwardBatch, several sequences in one pass: each sequence's logits and cache must be what
 * running it alone gives, whatever the other sequences hold (different lengths, different cache
 * positions), with plain attention and FlashAttention; and with every position's logits kept.
 */
class CpuTransformerBatchTest {
    @ParameterizedTest
    @CsvSource({"stories260K.gguf, false", "stories260K.gguf, true", "stories260K-q8_0.gguf, false"})
    void aBatchOfSequencesGivesEachTheLogitsItGetsAlone(String name, boolean flash) {
        try (GgufFile f = GgufFile.open(TestFiles.model(name))) {
            ModelConfig c = ModelConfig.from(f);
            try (CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 2, flash)) {
                int[][] history = {{1, 400, 300}, {1, 20, 30, 40, 50, 60, 70}, {1}};
                int[][] next = {{5}, {9, 10, 11}, {100, 200}};
                KvCache[] together = new KvCache[3], alone = new KvCache[3];
                float[][] expected = new float[3][];
                for (int s = 0; s < 3; s++) {
                    together[s] = m.newCache(64, KvCache.Precision.F16);
                    alone[s] = m.newCache(64, KvCache.Precision.F16);
                    m.forward(history[s], together[s], false);
                    m.forward(history[s], alone[s], false);
                    expected[s] = m.forward(next[s], alone[s], false)[0];
                }
                float[][] got = m.forwardBatch(next, together);
                // Quantised weights: a lone token takes the matrix-vector kernels, a batch the matrix-matrix ones (same rounding, other summation order).
                // F32: the same products, but the Vector API sums lanes in another order before the JIT compiles a kernel than
                // after (README, Reproducibility), which moved logits by 1.5e-5 once under load; 1e-4 is FlashAttentionTest's bound.
                float tolerance = name.contains("q8") ? 2e-3f : 1e-4f;
                for (int s = 0; s < 3; s++) {
                    assertEquals(alone[s].length(), together[s].length(), "sequence " + s + " cache length");
                    assertArrayEquals(expected[s], got[s], tolerance, "sequence " + s);
                }
                // The caches hold the same keys: a further token gives the same logits.
                for (int s = 0; s < 3; s++) {
                    assertArrayEquals(m.forward(new int[] {7}, alone[s], false)[0], m.forward(new int[] {7}, together[s], false)[0], tolerance);
                }
                // Every position's logits (speculative verification of several sequences): as each alone with allLogits.
                int[][] more = {{8, 9}, {10}, {11, 12, 13}};
                float[][][] all = m.forwardBatchAllLogits(more, together);
                for (int s = 0; s < 3; s++) {
                    float[][] lone = m.forward(more[s], alone[s], true);
                    assertEquals(lone.length, all[s].length);
                    for (int i = 0; i < lone.length; i++) assertArrayEquals(lone[i], all[s][i], tolerance, "sequence " + s + " position " + i);
                }
                KvCache shared = together[0];
                assertThrows(IllegalArgumentException.class, () -> m.forwardBatch(new int[][] {{1}, {2}}, new KvCache[] {shared, shared}));
                assertThrows(IllegalArgumentException.class, () -> m.forwardBatch(new int[][] {{1}, {}}, new KvCache[] {together[0], together[1]}));
            }
        }
    }
}
