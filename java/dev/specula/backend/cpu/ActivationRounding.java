package dev.specula.backend.cpu;

import dev.specula.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * How llama.cpp rounds the activations before multiplying them with weights of a given type (the
 * type's {@code vec_dot_type}): to F16 for F16 weights, BF16 for BF16, 8-bit blocks of 32 with an
 * fp16 scale (Q8_0, Q8_1) for the legacy quantised types and IQ4_NL, 8-bit blocks of 256 with a
 * float scale (Q8_K) for the K-quants and IQ4_XS, and not at all for F32.
 *
 * <p>Specula rounds the same way on every path (matrix-vector, matrix-matrix, the integer
 * kernels), so its logits track llama.cpp's closely on quantised models and a batch of tokens gives
 * the same products as the tokens one at a time, up to summation order. The levels are ggml's x86
 * quantisers' bit for bit (quantize_row_q8_0 and quantize_mat_q8_0_4x8: factor 127 / max|x|,
 * halfway values to even; Q8_K: nearest_int, to even), not the reference quantiser's (factor
 * 1 / (max|x| / 127), halfway away from zero): inputs on a lattice, such as a quantised embedding
 * row under a norm of ones, often sit exactly on a midpoint, and a level flipped there moved the
 * logits of make-model's Q4_0 models by 0.05 against llama.cpp.
 */
enum ActivationRounding {
    NONE(1), F16(1), BF16(1), Q8_0(32), Q8_K(256);

    /** 1.5 × 2^23: t + MAGIC - MAGIC is t rounded to the nearest integer, halfway to even, for |t| < 2^22. */
    private static final float MAGIC = 12582912f;

    /** Elements sharing one scale. */
    final int block;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = S.length() == 16 ? IntVector.SPECIES_512 : S.length() == 8 ? IntVector.SPECIES_256 : IntVector.SPECIES_128;
    private static final VectorSpecies<Short> SHORTS = S.length() == 16 ? jdk.incubator.vector.ShortVector.SPECIES_256
            : jdk.incubator.vector.ShortVector.SPECIES_128;

    ActivationRounding(int block) {
        this.block = block;
    }

    static ActivationRounding of(GgmlType weights) {
        return switch (weights) {
            case F32 -> NONE;
            case F16 -> F16;
            case BF16 -> BF16;
            case Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL -> Q8_0;
            default -> Q8_K;
        };
    }

    /** x rounded, as a new array (x itself when nothing rounds). */
    float[] rounded(float[] x, int n) {
        if (this == NONE) return x;
        float[] out = new float[x.length];
        if (this == F16) {
            for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(Float.floatToFloat16(x[i]));
            return out;
        }
        if (this == BF16) {
            for (int i = 0; i < n; i++) out[i] = dev.specula.tensor.HalfFloats.bf16ToFloat(dev.specula.tensor.HalfFloats.floatToBf16(x[i]));
            return out;
        }
        roundBlocks(x, out, n);
        return out;
    }

    /** out = q × d block by block, with the levels of {@link #quantize}. */
    private void roundBlocks(float[] x, float[] out, int n) {
        boolean vector = block % S.length() == 0;
        float[] scale = new float[1];
        for (int first = 0; first < n; first += block) {
            float inverse = scale(x, first, vector, scale, 0), d = scale[0];
            int i = first;
            if (vector) {
                for (; i < first + block; i += S.length()) {
                    FloatVector t = FloatVector.fromArray(S, x, i).mul(inverse);
                    IntVector q = ((IntVector) t.add(MAGIC).sub(MAGIC).convertShape(VectorOperators.F2I, I, 0)).min(127);
                    ((FloatVector) q.convertShape(VectorOperators.I2F, S, 0)).mul(d).intoArray(out, i);
                }
            }
            for (; i < first + block; i++) out[i] = Math.min(127, (int) Math.rint(x[i] * inverse)) * d;
        }
    }

    /**
     * The 8-bit levels and block scales of x[0, n) (n a multiple of {@link #block}), for Q8_0 and
     * Q8_K: x ≈ q × d (see {@link #scale}).
     */
    void quantize(float[] x, int n, short[] q, float[] d) {
        boolean vector = block % S.length() == 0;
        for (int b = 0, first = 0; first < n; b++, first += block) {
            float inverse = scale(x, first, vector, d, b);
            int i = first;
            if (vector) {
                for (; i < first + block; i += S.length()) levels(x, i, inverse).intoArray(q, i);
            }
            for (; i < first + block; i++) q[i] = (short) Math.min(127, (int) Math.rint(x[i] * inverse));
        }
    }

    /**
     * Looks at x[first, first + block): writes the block's d to {@code d[at]} and returns the
     * factor that maps x to levels. Q8_0: d = fp16(max|x| / 127), factor 127 / max|x| (not
     * 1 / (max|x| / 127): ggml's x86 code). Q8_K: d = -max / 127 for the element of largest magnitude, factor 1 / d.
     */
    private float scale(float[] x, int first, boolean vector, float[] d, int at) {
        float max, min;
        if (vector) {
            FloatVector hi = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY), lo = FloatVector.broadcast(S, Float.POSITIVE_INFINITY);
            for (int i = first; i < first + block; i += S.length()) {
                FloatVector v = FloatVector.fromArray(S, x, i);
                hi = hi.max(v);
                lo = lo.min(v);
            }
            max = hi.reduceLanes(VectorOperators.MAX);
            min = lo.reduceLanes(VectorOperators.MIN);
        } else {
            max = Float.NEGATIVE_INFINITY;
            min = Float.POSITIVE_INFINITY;
            for (int i = first; i < first + block; i++) {
                max = Math.max(max, x[i]);
                min = Math.min(min, x[i]);
            }
        }
        float amax = Math.max(max, -min);
        if (this == Q8_0) {
            float scale = amax / 127;
            d[at] = Float.float16ToFloat(Float.floatToFloat16(scale));
            return amax != 0 ? 127 / amax : 0;
        }
        if (amax == 0) {
            d[at] = 0;
            return 0;
        }
        float inverse = -127f / (-min > max ? min : max);
        d[at] = 1 / inverse;
        return inverse;
    }

    /** Levels of x[i, i + lanes): nearest, halfway to even, at most 127. */
    private static jdk.incubator.vector.ShortVector levels(float[] x, int i, float inverse) {
        FloatVector t = FloatVector.fromArray(S, x, i).mul(inverse);
        IntVector q = ((IntVector) t.add(MAGIC).sub(MAGIC).convertShape(VectorOperators.F2I, I, 0)).min(127);
        return (jdk.incubator.vector.ShortVector) q.convertShape(VectorOperators.I2S, SHORTS, 0);
    }
}
