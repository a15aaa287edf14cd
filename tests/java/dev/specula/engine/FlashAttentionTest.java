package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** FlashAttention and plain attention give the same logits on every shared model. */
class FlashAttentionTest {
    /**
     * Absolute, on logits of magnitude up to ~15, with an F32 cache: the two paths normalise and
     * sum in different orders, which moves logits by about 2e-5 (measured); the bound is 1e-4.
     */
    static final float TOLERANCE = 1e-4f;
    /**
     * With an F16 cache a difference of one float ulp can flip the F16 rounding of a stored key
     * (a step of 1e-3 relative), and later layers carry that on: measured up to 4e-3 between the
     * two paths, and as much between the interpreter and compiled code of one path. The bound is
     * the F16 bound of the comparison with llama.cpp (20 × 2e-3).
     */
    static final float F16_TOLERANCE = 20 * ReferenceLogitsTest.LOGIT_TOLERANCE;
    /** Longer than two flash tiles, so tiles, partial tiles and the causal skip are all exercised. */
    static final int SEQUENCE = 2 * Attention.FLASH_TILE + 37;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "stories260K.gguf, F32", "stories260K-q8_0.gguf, F32", "stories260K-q4_0.gguf, F32", "stories260K-draft-4layer-f32.gguf, F32",
        "stories260K.gguf, F16", "stories260K-q4_0.gguf, F16",
    })
    void flashMatchesPlainInPrefillAndDecode(String model, KvCache.Precision precision) {
        // Quantised weights round activations to 8 bits, so a last-bit difference can move a value
        // to the next level: such models (and F16 caches) get the rounding rule of AllModelsReferenceTest.
        boolean strict = precision == KvCache.Precision.F32 && !model.contains("q8_0") && !model.contains("q4_0");
        float tolerance = precision == KvCache.Precision.F32 ? TOLERANCE : F16_TOLERANCE;
        try (GgufFile f = GgufFile.open(TestFiles.model(model))) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            try (CpuTransformer plain = new CpuTransformer(c, w, 2, false); CpuTransformer flash = new CpuTransformer(c, w, 2, true)) {
                int[] tokens = realText(c.vocabSize());
                KvCache kp = new KvCache(c, 512, precision), kf = new KvCache(c, 512, precision);
                assertClose(plain.forward(tokens, kp, true), flash.forward(tokens, kf, true), tolerance, strict);
                for (int step = 0; step < 5; step++) {
                    int[] next = {3 + step};
                    assertClose(plain.forward(next, kp, false), flash.forward(next, kf, false), tolerance, strict);
                }
            }
        }
    }

    /**
     * SEQUENCE tokens of real text: llama.cpp's greedy continuations of the three fixture prompts,
     * back to back. Random tokens make attention chaotic enough that summation order alone moves
     * logits by several 1e-3 (even between the interpreter and compiled code of the same path).
     */
    static int[] realText(int vocab) {
        int[] out = new int[SEQUENCE];
        int n = 0;
        try {
            while (n < SEQUENCE) {
                for (String p : new String[] {"p1", "p2", "p3"}) {
                    int[] t = dev.specula.Npy.read(TestFiles.require(TestFiles.shared().resolve("fixtures/logits/stories260K." + p + ".tokens.npy"))).ints();
                    for (int i = (n == 0 ? 0 : 1); i < t.length && n < SEQUENCE; i++) out[n++] = t[i];
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        for (int t : out) assertTrue(t < vocab);
        return out;
    }

    static void assertClose(float[][] a, float[][] b, float tolerance, boolean strict) {
        assertEquals(a.length, b.length);
        float bound = strict ? tolerance : AllModelsReferenceTest.ROUNDING_BOUND;
        for (int i = 0; i < a.length; i++) {
            for (int t = 0; t < a[i].length; t++) assertEquals(a[i][t], b[i][t], bound, "position " + i + " token " + t);
        }
    }
}
