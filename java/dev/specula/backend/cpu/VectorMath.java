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

    /** out = x / sqrt(mean(x^2) + eps) * w, as llama.cpp's RMSNorm (sum in float). */
    public static void rmsNorm(float[] x, int xOff, float[] w, float[] out, int outOff, int n, float eps) {
        float ss = dot(x, xOff, x, xOff, n);
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
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
            FloatVector e = exp(FloatVector.fromArray(S, x, off + i).sub(max));
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

    private static final float LOG2E = 1.44269504088896341f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /** 1.5 × 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer. */
    private static final float ROUND = 12582912f;

    /**
     * e^x lane by lane, within 3 ulp of {@link Math#exp} (measured 2.8) over the range softmax and SiLU use,
     * built only from IEEE-exact operations (multiply-add, conversions of integers), so compiled
     * and interpreted code give the same bits. The Vector API's own EXP does not: compiled, it
     * calls Intel's SVML; interpreted, {@code Math.exp}, and the two differ in the last bit.
     * Range reduction x = n ln 2 + r (Cody-Waite, two-part ln 2), a degree-6 polynomial for e^r
     * on |r| <= ln2/2, then the exponent n added to the result's bits.
     */
    public static FloatVector exp(FloatVector x) {
        x = x.max(-87.3f).min(88.7f);
        FloatVector n = x.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(S, 1.3981999507e-3f);
        p = p.fma(r, FloatVector.broadcast(S, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(S, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(S, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(S, 5.0000001201e-1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        jdk.incubator.vector.IntVector bits = ((jdk.incubator.vector.IntVector) n.convertShape(VectorOperators.F2I, INTS, 0))
                .add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }

    private static final jdk.incubator.vector.VectorSpecies<Integer> INTS = jdk.incubator.vector.VectorSpecies.of(int.class, S.vectorShape());

    /** gate = silu(gate) * up, elementwise (SwiGLU). */
    public static void swiglu(float[] gate, float[] up, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, i);
            FloatVector e = exp(g.neg());
            g.div(e.add(1f)).mul(FloatVector.fromArray(S, up, i)).intoArray(gate, i);
        }
        for (; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }
}
