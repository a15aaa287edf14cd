package dev.specula.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Activation rounding must give llama.cpp's levels bit for bit, ties included, or a flipped level
 * (a whole 1/127 of the block's largest value) moves the logits by 1e-2 and more. ggml's x86
 * quantisers (quantize_row_q8_0, quantize_mat_q8_0_4x8) take the factor 127 / max|x| and round
 * to nearest even; its Q8_K quantiser rounds to nearest even too (nearest_int).
 */
class ActivationRoundingTest {
    /** ggml's x86 quantize_row_q8_0 levels of one block of 32. */
    private static short[] ggmlQ8_0(float[] x) {
        float amax = 0;
        for (float v : x) amax = Math.max(amax, Math.abs(v));
        float id = amax != 0 ? 127f / amax : 0;
        short[] q = new short[x.length];
        for (int i = 0; i < x.length; i++) q[i] = (short) Math.rint(x[i] * id);
        return q;
    }

    @Test
    void halfwayValuesRoundToEvenAsGgml() {
        float[] x = new float[32];
        x[0] = 127; // the scale is exactly 1: every x * factor below is exact
        x[1] = 62.5f;
        x[2] = -62.5f;
        x[3] = 0.5f;
        x[4] = 1.5f;
        x[5] = -3.5f;
        short[] q = new short[32];
        ActivationRounding.Q8_0.quantize(x, 32, q, new float[1]);
        assertArrayEquals(new short[] {127, 62, -62, 0, 2, -4}, java.util.Arrays.copyOf(q, 6));
        float[] r = ActivationRounding.Q8_0.rounded(x, 32);
        assertArrayEquals(new float[] {127, 62, -62, 0, 2, -4}, java.util.Arrays.copyOf(r, 6));

        // Q8_K: factor -127 / x of largest magnitude (here -1), nearest even.
        float[] y = new float[256];
        System.arraycopy(x, 0, y, 0, 6);
        short[] qk = new short[256];
        ActivationRounding.Q8_K.quantize(y, 256, qk, new float[1]);
        assertArrayEquals(new short[] {-127, -62, 62, 0, -2, 4}, java.util.Arrays.copyOf(qk, 6));
    }

    /**
     * Inputs on a 16-level lattice (a Q4_0 embedding row under a norm of ones, as make-model
     * writes): an eighth of them land on a level's midpoint, where 1 / (max / 127) and 127 / max
     * round differently. This is what made Specula and llama.cpp differ by 0.05 on such models.
     */
    @Test
    void latticeInputsGiveGgmlLevels() {
        SplittableRandom random = new SplittableRandom(3);
        short[] q = new short[32];
        float[] d = new float[1];
        int blocks = 2000;
        for (int b = 0; b < blocks; b++) {
            float m = (float) (1e-3 + random.nextDouble() * 0.1);
            float[] x = new float[32];
            x[0] = -8 * m;
            for (int i = 1; i < 32; i++) x[i] = (random.nextInt(16) - 8) * m;
            ActivationRounding.Q8_0.quantize(x, 32, q, d);
            short[] expected = ggmlQ8_0(x);
            assertArrayEquals(expected, q, "block " + b + " (step " + m + ")");
            float[] r = ActivationRounding.Q8_0.rounded(x, 32);
            for (int i = 0; i < 32; i++) assertEquals(expected[i] * d[0], r[i], "block " + b + " element " + i);
        }
    }
}
