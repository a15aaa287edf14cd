package dev.specula.backend.cpu;

import dev.specula.tensor.LaneSum;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Float-array kernels of the CPU backend (Vector API at the machine's preferred width). */
public final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** For rows shorter than a full vector (head dimension 8 of the small test models): 8 lanes. */
    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256;

    private VectorMath() {}

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        if (n < S.length() && n >= S8.length() && S.length() > S8.length()) return dotShort(a, aOff, b, bOff, n);
        int i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        }
        float sum = LaneSum.of(acc);
        for (; i < n; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    private static float dotShort(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(S8);
        for (int bound = S8.loopBound(n); i < bound; i += S8.length()) {
            acc = FloatVector.fromArray(S8, a, aOff + i).fma(FloatVector.fromArray(S8, b, bOff + i), acc);
        }
        float sum = LaneSum.of(acc);
        for (; i < n; i++) sum += a[aOff + i] * b[bOff + i];
        return sum;
    }

    /** y[yOff..] += a * x[xOff..] */
    public static void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        if (n < S.length() && n >= S8.length() && S.length() > S8.length()) {
            axpyShort(a, x, xOff, y, yOff, n);
            return;
        }
        int i = 0;
        FloatVector va = FloatVector.broadcast(S, a);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xOff + i).fma(va, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    private static void axpyShort(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(S8, a);
        for (int bound = S8.loopBound(n); i < bound; i += S8.length()) {
            FloatVector.fromArray(S8, x, xOff + i).fma(va, FloatVector.fromArray(S8, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /** y[yOff..] *= a */
    public static void scale(float a, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, y, yOff + i).mul(a).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] *= a;
    }

    /**
     * out = x / sqrt(mean(x^2) + eps) * w, bit for bit as ggml's rms_norm then mul: squares summed
     * in double, mean and 1 / sqrt in float. A last-bit difference in the scale can flip the 8-bit
     * rounding of the next product's input (see {@link ActivationRounding}).
     */
    public static void rmsNorm(float[] x, int xOff, float[] w, float[] out, int outOff, int n, float eps) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += x[xOff + i] * x[xOff + i];
        float mean = (float) (ss / n);
        float inv = 1f / (float) Math.sqrt(mean + eps);
        for (int i = 0; i < n; i++) out[outOff + i] = x[xOff + i] * inv * w[i];
    }

    /**
     * x[off + i] = exp(x[off + i] - max) for i < n, returning their sum: the softmax numerator.
     * The vector exponential (SVML on x86) is within an ulp or two of {@link Math#exp}.
     */
    public static float expSubtract(float[] x, int off, int n, float max) {
        int i = 0;
        FloatVector sum = FloatVector.zero(S);
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector e = FloatVector.fromArray(S, x, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(x, off + i);
            sum = sum.add(e);
        }
        float total = LaneSum.of(sum);
        for (; i < n; i++) {
            x[off + i] = (float) Math.exp(x[off + i] - max);
            total += x[off + i];
        }
        return total;
    }

    /** gate = silu(gate) * up, elementwise (SwiGLU). */
    public static void swiglu(float[] gate, float[] up, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, i);
            FloatVector e = g.neg().lanewise(VectorOperators.EXP);
            g.div(e.add(1f)).mul(FloatVector.fromArray(S, up, i)).intoArray(gate, i);
        }
        for (; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }
}
