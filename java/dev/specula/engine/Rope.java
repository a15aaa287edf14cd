package dev.specula.engine;

import dev.specula.model.ModelConfig;
import dev.specula.model.RopeScaling;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Rotary position embedding as ggml defines it (ggml_rope_ext), in llama.cpp's two layouts: NORM
 * rotates pairs (2i, 2i+1), NEOX rotates (i, i + d/2), over the first d = ropeDims dimensions of
 * each head.
 *
 * <p>Pair i at position p: {@code theta = p * base^(-2i/d) / ff_i} (ff: the optional
 * {@code rope_freqs.weight} frequency factors, else 1); the angle is
 * {@code freqScale * theta * (1 - mix_i) + theta * mix_i} with YaRN's ramp mix (0 unless the
 * scaling has an ext_factor), and cos/sin are multiplied by the scaling's magnitude (see
 * {@link RopeScaling}). Since the angle is linear in p, each pair has one effective frequency.
 *
 * <p>The per-pair frequencies are exact (double); the angle p * freq is rounded to float as ggml's
 * is, then cos/sin are taken in double. cos/sin rows are computed once per position and kept (every layer rotates the same
 * positions), in a table safe to read and fill from several threads.
 */
final class Rope {
    /** Positions beyond this are computed per call instead of kept. */
    private static final int MAX_CACHED_POSITIONS = 1 << 20;

    private final int ropeDims;
    private final boolean neox;
    /** The angle of pair i at position p is p * freq[i]. */
    private final double[] freq;
    private final double magnitude;
    private volatile AtomicReferenceArray<float[]> rows;

    Rope(ModelConfig c) {
        this(c, null);
    }

    /** @param freqFactors ropeDims/2 divisors of the base frequencies, or null */
    Rope(ModelConfig c, float[] freqFactors) {
        this(c.ropeDims(), c.ropeNeox(), c.ropeFreqBase(), c.ropeScaling(), freqFactors, c.contextLength());
    }

    Rope(int ropeDims, boolean neox, float freqBase, RopeScaling scaling, float[] freqFactors, int expectedPositions) {
        if (ropeDims <= 0 || ropeDims % 2 != 0) throw new IllegalArgumentException("rope dimensions must be even and positive, got " + ropeDims);
        int half = ropeDims / 2;
        if (freqFactors != null && freqFactors.length != half) {
            throw new IllegalArgumentException(half + " frequency factors expected, got " + freqFactors.length);
        }
        this.ropeDims = ropeDims;
        this.neox = neox;
        this.freq = angles(ropeDims, freqBase, scaling, freqFactors);
        this.magnitude = scaling.magnitude();
        this.rows = new AtomicReferenceArray<>(Math.clamp(expectedPositions, 16, MAX_CACHED_POSITIONS));
    }

    /** The per-pair frequencies: the angle of pair i at position p is {@code p * result[i]}. */
    static double[] angles(int ropeDims, float freqBase, RopeScaling s, float[] freqFactors) {
        int half = ropeDims / 2;
        double[] f = new double[half];
        float[] corr = s.extFactor() != 0f ? s.correctionDims(ropeDims, freqBase) : null;
        double freqScale = s.freqScale();
        for (int i = 0; i < half; i++) {
            double extrap = Math.pow(freqBase, -2.0 * i / ropeDims) / (freqFactors == null ? 1.0 : freqFactors[i]);
            double mix = 0;
            if (corr != null) {
                double y = (i - (double) corr[0]) / Math.max(0.001, (double) corr[1] - corr[0]);
                mix = (1 - Math.min(1, Math.max(0, y))) * s.extFactor();
            }
            f[i] = extrap * (freqScale * (1 - mix) + mix);
        }
        return f;
    }

    /** cos and sin of every pair at {@code pos}, interleaved: [cos0, sin0, cos1, sin1, ...]. */
    float[] row(int pos) {
        AtomicReferenceArray<float[]> table = rows;
        if (pos < table.length()) {
            float[] r = table.getAcquire(pos);
            if (r != null) return r;
        }
        float[] r = compute(pos);
        if (pos < MAX_CACHED_POSITIONS) {
            if (pos >= table.length()) table = grow(pos);
            table.setRelease(pos, r);
        }
        return r;
    }

    private float[] compute(int pos) {
        float[] r = new float[ropeDims];
        for (int i = 0; i < freq.length; i++) {
            // A float angle, as ggml's (its rounding at large positions is part of llama.cpp's results).
            float theta = (float) pos * (float) freq[i];
            r[2 * i] = (float) (Math.cos(theta) * magnitude);
            r[2 * i + 1] = (float) (Math.sin(theta) * magnitude);
        }
        return r;
    }

    private synchronized AtomicReferenceArray<float[]> grow(int pos) {
        AtomicReferenceArray<float[]> old = rows;
        if (pos < old.length()) return old;
        int n = (int) Math.min(MAX_CACHED_POSITIONS, Math.max((long) pos + 1, 2L * old.length()));
        AtomicReferenceArray<float[]> bigger = new AtomicReferenceArray<>(n);
        // A row another thread stores into the old table meanwhile is merely computed again later.
        for (int i = 0; i < old.length(); i++) bigger.setPlain(i, old.getAcquire(i));
        rows = bigger;
        return bigger;
    }

    /** Rotates {@code heads} heads of width {@code headDim} stored back to back in x from xOff. */
    void apply(float[] x, int xOff, int heads, int headDim, int pos) {
        float[] r = row(pos);
        int half = ropeDims / 2;
        for (int h = 0; h < heads; h++) {
            int base = xOff + h * headDim;
            for (int i = 0; i < half; i++) {
                float cos = r[2 * i], sin = r[2 * i + 1];
                int a = base + (neox ? i : 2 * i), b = base + (neox ? i + half : 2 * i + 1);
                float x0 = x[a], x1 = x[b];
                x[a] = x0 * cos - x1 * sin;
                x[b] = x0 * sin + x1 * cos;
            }
        }
    }
}
