package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.model.RopeScaling;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Rope against a reference written here from the definitions (ggml_rope_ext, YaRN), in double
 * precision and without sharing code with Rope or RopeScaling.
 */
class RopeTest {
    /** YaRN's correction dimension: the pair that turns beta times over the original context. */
    private static double corrDim(int d, int originalContext, double beta, double base) {
        return d * Math.log(originalContext / (beta * 2 * Math.PI)) / (2 * Math.log(base));
    }

    /**
     * cos/sin of pair i at position p, straight from the formulas: theta_extrap = p * base^(-2i/d) / ff_i,
     * theta_interp = theta_extrap / factor; with YaRN the two are mixed by the ramp
     * 1 - clamp((i - low) / max(0.001, high - low), 0, 1) (times ext_factor), and cos/sin are scaled by
     * mscale = 1 + 0.1 ln(factor) (llama.cpp's attn_factor correction and ggml's term leave exactly that).
     */
    private static double[] reference(int p, int i, int d, double base, String type, double factor, int origCtx,
                                      double betaFast, double betaSlow, double[] ff) {
        double extrap = p * Math.pow(base, -2.0 * i / d) / (ff == null ? 1 : ff[i]);
        double theta, mscale = 1;
        switch (type) {
            case "none" -> theta = extrap;
            case "linear" -> theta = extrap / factor;
            case "yarn" -> {
                double low = Math.max(0, Math.floor(corrDim(d, origCtx, betaFast, base)));
                double high = Math.min(d - 1, Math.ceil(corrDim(d, origCtx, betaSlow, base)));
                double y = (i - low) / Math.max(0.001, high - low);
                double mix = 1 - Math.min(1, Math.max(0, y));
                theta = extrap / factor * (1 - mix) + extrap * mix;
                mscale = 1 + 0.1 * Math.log(factor);
            }
            default -> throw new AssertionError(type);
        }
        return new double[] {Math.cos(theta) * mscale, Math.sin(theta) * mscale};
    }

    /** An upper bound of the angle of pair i (the unscaled one), for float-rounding tolerances. */
    private static double angle(int p, int i, int d, double base, float[] ff) {
        return p * Math.pow(base, -2.0 * i / d) / (ff == null ? 1 : ff[i]);
    }

    private static RopeScaling scaling(String type, float factor, int origCtx) {
        return switch (type) {
            case "none" -> RopeScaling.none(origCtx);
            case "linear" -> RopeScaling.linear(factor, origCtx);
            default -> RopeScaling.yarn(factor, origCtx);
        };
    }

    /** Rotates a random multi-head vector with Rope and with the reference, NORM and NEOX, with and without factors. */
    @Test
    void rotationMatchesTheDefinitionInBothLayouts() {
        int headDim = 64, ropeDims = 48, heads = 3;
        float base = 1_000_000f;
        double[] ffD = new double[ropeDims / 2];
        float[] ff = new float[ropeDims / 2];
        for (int i = 0; i < ff.length; i++) ffD[i] = ff[i] = 1 + (i % 5) * 0.75f;
        Random rnd = new Random(1);
        for (String type : new String[] {"none", "linear", "yarn"}) {
            for (boolean neox : new boolean[] {false, true}) {
                for (float[] factors : new float[][] {null, ff}) {
                    Rope rope = new Rope(ropeDims, neox, base, scaling(type, 8f, 4096), factors, 64);
                    for (int pos : new int[] {0, 1, 7, 100, 4095, 30_000, 200_000}) {
                        float[] x = new float[heads * headDim + 5];
                        for (int j = 0; j < x.length; j++) x[j] = (float) rnd.nextGaussian();
                        float[] before = x.clone();
                        rope.apply(x, 5, heads, headDim, pos);
                        for (int h = 0; h < heads; h++) {
                            int o = 5 + h * headDim;
                            for (int i = 0; i < ropeDims / 2; i++) {
                                double[] cs = reference(pos, i, ropeDims, base, type, 8, 4096, 32, 1, factors == null ? null : ffD);
                                int a = o + (neox ? i : 2 * i), b = o + (neox ? i + ropeDims / 2 : 2 * i + 1);
                                double x0 = before[a], x1 = before[b];
                                // Rope's angles are floats, as ggml's: allow their rounding (6e-8 relative) on top of float cos/sin.
                                double tol = (2e-5 + 1.2e-7 * angle(pos, i, ropeDims, base, factors)) * (Math.abs(x0) + Math.abs(x1) + 1);
                                String at = type + (neox ? " neox" : " norm") + (factors == null ? "" : " ff") + " pos " + pos + " pair " + i;
                                assertEquals(x0 * cs[0] - x1 * cs[1], x[a], tol, at);
                                assertEquals(x0 * cs[1] + x1 * cs[0], x[b], tol, at);
                            }
                            for (int j = ropeDims; j < headDim; j++) assertEquals(before[o + j], x[o + j], 0, "unrotated tail");
                        }
                        assertEquals(before[0], x[0], 0, "before xOff");
                    }
                }
            }
        }
    }

    /** The cached cos/sin rows, including YaRN's ramp ends and mscale, for a Qwen3-like 128-dim head. */
    @Test
    void yarnCosSinRowsForAQwenLikeHead() {
        int d = 128;
        float base = 1_000_000f;
        // Qwen3's recommended YaRN: factor 4 over an original 32768 context.
        Rope rope = new Rope(d, true, base, RopeScaling.yarn(4f, 32768), null, 16);
        // The correction range for these numbers: floor(23.6) = 23 and ceil(39.65) = 40.
        assertEquals(23, Math.floor(corrDim(d, 32768, 32, base)));
        assertEquals(40, Math.ceil(corrDim(d, 32768, 1, base)));
        double mscale = 1 + 0.1 * Math.log(4);
        for (int pos : new int[] {1, 5000, 17, 100_000, 3}) { // out of order and past the initial table
            float[] row = rope.row(pos);
            for (int i = 0; i < d / 2; i++) {
                double[] cs = reference(pos, i, d, base, "yarn", 4, 32768, 32, 1, null);
                double tol = 2e-6 + 1.2e-7 * mscale * angle(pos, i, d, base, null);
                assertEquals(cs[0], row[2 * i], tol, "cos pos " + pos + " pair " + i);
                assertEquals(cs[1], row[2 * i + 1], tol, "sin pos " + pos + " pair " + i);
                assertEquals(mscale, Math.hypot(row[2 * i], row[2 * i + 1]), 1e-6);
            }
        }
        // Below the range the angle is unscaled (extrapolated), above it divided by the factor.
        double[] f = Rope.angles(d, base, RopeScaling.yarn(4f, 32768), null);
        assertEquals(Math.pow(base, -2.0 * 10 / d), f[10], 1e-15);
        assertEquals(Math.pow(base, -2.0 * 50 / d) / 4, f[50], 1e-15);
        // Pair 30 is 7/17 of the way through the ramp: mix = 10/17.
        double mix = 10.0 / 17;
        assertEquals(Math.pow(base, -2.0 * 30 / d) * (0.25 * (1 - mix) + mix), f[30], 1e-15);
    }

    @Test
    void frequencyFactorsDivideTheBaseFrequencies() {
        float[] ff = {1f, 2f, 4f, 8f};
        double[] plain = Rope.angles(8, 10000f, RopeScaling.none(128), null);
        double[] scaled = Rope.angles(8, 10000f, RopeScaling.none(128), ff);
        for (int i = 0; i < 4; i++) assertEquals(plain[i] / ff[i], scaled[i], 1e-18);
        double[] linear = Rope.angles(8, 10000f, RopeScaling.linear(2f, 128), ff);
        for (int i = 0; i < 4; i++) assertEquals(Math.pow(10000, -2.0 * i / 8) / ff[i] / 2, linear[i], 1e-15);
    }

    @Test
    void concurrentUseGivesTheSameRows() throws Exception {
        Rope rope = new Rope(16, false, 10000f, RopeScaling.yarn(2f, 64), null, 16);
        Rope fresh = new Rope(16, false, 10000f, RopeScaling.yarn(2f, 64), null, 16);
        Thread[] ts = new Thread[4];
        for (int t = 0; t < ts.length; t++) {
            int seed = t;
            ts[t] = new Thread(() -> {
                Random r = new Random(seed);
                for (int k = 0; k < 20_000; k++) rope.row(r.nextInt(5000));
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        for (int pos = 0; pos < 5000; pos += 7) assertArrayEquals(fresh.row(pos), rope.row(pos));
    }
}
