package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import dev.specula.gguf.GgufValue;
import dev.specula.gguf.GgufWriter;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.model.RopeScaling;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * YaRN and rope_freqs end to end: stories260K rewritten with {@code llama.rope.scaling.type = yarn},
 * {@code factor = 4}, {@code original_context_length = 100} (so YaRN's ramp runs over pairs 0..2 of
 * its 8-dim heads), and optionally {@code rope_freqs.weight = [1, 1.5, 3, 8]}, against llama.cpp.
 *
 * <p>The expected numbers were produced once, outside this repository: the same two files written by
 * GgufWriter exactly as {@link #rewrite} does, then a small C program against llama.cpp's libllama
 * (build de3ff81, CPU, 1 thread, F32 KV cache, n_ctx 256) that tokenises "Once upon a time, there
 * was a little girl named Lily." (the ids below), decodes them in one batch with logits for every
 * position, and prints the top-5 logits at each position. llama.cpp's log confirmed
 * {@code rope scaling = yarn, freq_scale_train = 0.25, n_ctx_orig_yarn = 100}. Rows: {token, logit}.
 */
class RopeScalingLogitsTest {
    @TempDir Path tmp;

    static final int[] IDS = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
    static final int[] POSITIONS = {1, 8, 15};
    /** Unscaled stories260K differs from llama.cpp by up to ~5e-3 on these logits already. */
    static final float TOLERANCE = 1e-2f;

    static final double[][][] YARN = {
            {{407, 18.406834}, {383, 14.230295}, {261, 10.835945}, {403, 10.673971}, {432, 10.092700}},
            {{376, 13.654513}, {268, 11.294385}, {370, 11.179813}, {280, 10.533528}, {298, 10.316225}},
            {{338, 16.810766}, {317, 13.143063}, {385, 12.558905}, {342, 10.678053}, {405, 10.657707}}};
    static final double[][][] YARN_FREQ_FACTORS = {
            {{407, 18.412073}, {383, 14.235994}, {261, 10.810316}, {403, 10.682366}, {432, 10.074408}},
            {{376, 13.595512}, {268, 11.189218}, {370, 11.096992}, {280, 10.514243}, {262, 10.329340}},
            {{338, 16.329105}, {317, 12.881942}, {385, 11.527414}, {405, 10.584042}, {342, 10.442175}}};

    static Path rewrite(Path to, boolean freqFactors) throws IOException {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            GgufWriter w = new GgufWriter();
            for (String k : f.metadata().keys()) {
                GgufValue v = f.metadata().get(k).orElseThrow();
                w.put(k, v.type(), v.value());
            }
            w.putString("llama.rope.scaling.type", "yarn");
            w.putFloat32("llama.rope.scaling.factor", 4f);
            w.putUInt32("llama.rope.scaling.original_context_length", 100);
            for (GgufTensor t : f.tensors()) w.addTensor(t.name(), t.type(), t.shape(), t.data().toArray(ValueLayout.JAVA_BYTE));
            if (freqFactors) w.addF32Tensor("rope_freqs.weight", new long[] {4}, new float[] {1f, 1.5f, 3f, 8f});
            w.write(to);
        }
        return to;
    }

    static float[][] logits(Path model) {
        try (GgufFile f = GgufFile.open(model)) {
            ModelConfig c = ModelConfig.from(f);
            CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 1, false);
            return m.forward(IDS, new KvCache(c, 256, KvCache.Precision.F32), true);
        }
    }

    private static void check(float[][] ours, double[][][] expected) {
        for (int k = 0; k < POSITIONS.length; k++) {
            int pos = POSITIONS[k];
            float[] l = ours[pos];
            for (int r = 0; r < expected[k].length; r++) {
                int token = (int) expected[k][r][0];
                assertEquals(expected[k][r][1], l[token], TOLERANCE, "position " + pos + " token " + token);
                if (r > 0) assertTrue(l[(int) expected[k][r - 1][0]] > l[token], "order at position " + pos);
            }
        }
    }

    @Test
    void yarnMatchesLlamaCpp() throws IOException {
        Path p = rewrite(tmp.resolve("yarn.gguf"), false);
        try (GgufFile f = GgufFile.open(p)) {
            RopeScaling s = ModelConfig.from(f).ropeScaling();
            assertEquals(RopeScaling.Type.YARN, s.type());
            assertArrayEquals(new float[] {0, 2}, s.correctionDims(8, 10000f));
        }
        float[][] ours = logits(p);
        check(ours, YARN);
        // The scaling moves these logits far more than the tolerance: the check can tell.
        float[][] plain = logits(TestFiles.model("stories260K.gguf"));
        assertTrue(Math.abs(plain[15][338] - ours[15][338]) > 0.3f);
    }

    @Test
    void yarnWithFrequencyFactorsMatchesLlamaCpp() throws IOException {
        float[][] ours = logits(rewrite(tmp.resolve("yarn-ff.gguf"), true));
        check(ours, YARN_FREQ_FACTORS);
        assertTrue(Math.abs(YARN[2][2][1] - ours[15][385]) > 0.5, "the factors matter");
    }
}
