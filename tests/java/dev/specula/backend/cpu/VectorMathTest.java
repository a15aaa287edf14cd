package dev.specula.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VectorMathTest {
    /**
     * RMSNorm bit for bit as ggml's rms_norm (squares summed in double, mean and 1 / sqrt in
     * float), then ggml_mul by the weight: a last-bit difference in the scale moves inputs that sit
     * on a rounding midpoint of the next product's 8-bit activations to the other level.
     */
    @Test
    void rmsNormIsGgmlsBitForBit() {
        SplittableRandom random = new SplittableRandom(5);
        float eps = 1e-5f;
        for (int n : new int[] {16, 64, 100, 4096}) {
            for (int trial = 0; trial < 50; trial++) {
                float[] x = new float[n], w = new float[n], out = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) random.nextGaussian();
                    w[i] = (float) (1 + 0.1 * random.nextGaussian());
                }
                double sum = 0;
                for (float v : x) sum += v * v;
                float mean = (float) (sum / n);
                float scale = 1f / (float) Math.sqrt(mean + eps);
                VectorMath.rmsNorm(x, 0, w, out, 0, n, eps);
                for (int i = 0; i < n; i++) assertEquals(x[i] * scale * w[i], out[i], 0f, "n " + n + " trial " + trial + " element " + i);
            }
        }
    }
}
