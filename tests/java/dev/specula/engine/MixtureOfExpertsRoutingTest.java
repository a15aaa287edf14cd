package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The router's choice and weights, as llama.cpp's llm_build_moe_ffn computes them. */
class MixtureOfExpertsRoutingTest {
    static final float[] LOGITS = {0.5f, 2.0f, -1.0f, 1.5f, 0.0f, 3.0f, -2.0f, 1.0f};

    static double softmax(int i) {
        double sum = 0;
        for (float l : LOGITS) sum += Math.exp(l);
        return Math.exp(LOGITS[i]) / sum;
    }

    @Test
    void theMostProbableExpertsAreChosenInOrderWithTheirSoftmaxOverAllExpertsAsWeights() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(LOGITS, 3, false);
        assertArrayEquals(new int[] {5, 1, 3}, r.experts());
        for (int s = 0; s < 3; s++) assertEquals(softmax(r.experts()[s]), r.weights()[s], 1e-6, "weight of rank " + s);
    }

    @Test
    void normalisedWeightsAreRescaledToSumOne() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(LOGITS, 2, true);
        assertArrayEquals(new int[] {5, 1}, r.experts());
        double a = softmax(5), b = softmax(1);
        assertEquals(a / (a + b), r.weights()[0], 1e-6);
        assertEquals(b / (a + b), r.weights()[1], 1e-6);
    }

    @Test
    void oneExpertOfOneIsWeightedOne() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(new float[] {-4f}, 1, false);
        assertArrayEquals(new int[] {0}, r.experts());
        assertEquals(1f, r.weights()[0]);
    }

    @Test
    void tiesGoToTheLowerExpert() {
        MixtureOfExperts.Route r = MixtureOfExperts.route(new float[] {1f, 2f, 2f, 0f}, 2, true);
        assertArrayEquals(new int[] {1, 2}, r.experts());
        assertEquals(0.5f, r.weights()[0], 1e-7);
    }

    @Test
    void onlyTheChosenExpertsRunAndABatchRunsEachOnceForAllItsRows(@TempDir Path dir) {
        Path file = MoeReferenceTest.make(dir.resolve("m.gguf"), "qwen3moe-tiny");
        try (GgufFile f = GgufFile.open(file)) {
            ModelConfig c = ModelConfig.from(f);
            try (CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 1, false)) {
                MixtureOfExperts moe = m.experts();
                int[] batch = {1, 40, 77, 150, 201, 99, 300, 12, 5, 260, 33, 18};
                KvCache cache = m.newCache(32, KvCache.Precision.F32);
                m.forward(batch, cache, false);
                for (int li = 0; li < c.blockCount(); li++) {
                    long rows = 0;
                    for (int e = 0; e < 8; e++) {
                        assertTrue(moe.runs[li][e] <= 1, "layer " + li + " expert " + e + " ran " + moe.runs[li][e] + " times for one batch");
                        rows += moe.rows[li][e];
                    }
                    assertEquals(batch.length * 2L, rows, "layer " + li + ": top 2 of 8 per row, no more");
                }
                long[] before = moe.runs[0].clone();
                m.forward(new int[] {7}, cache, false);
                int ran = 0;
                for (int e = 0; e < 8; e++) ran += (int) (moe.runs[0][e] - before[e]);
                assertEquals(2, ran, "one token runs 2 of the 8 experts of a layer");
            }
        }
    }
}
