package dev.specula.backend.cpu;

import dev.specula.tensor.LaneSum;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormat;
import dev.specula.tensor.TensorFormats;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 2-D weight tensor used as a matrix: {@code rows = shape[1]} outputs of {@code cols = shape[0]}
 * inputs, kept in the file's own format (never a dequantised copy of the whole tensor).
 *
 * <p>One input (decode) is a matrix-vector product: each row's dot product is taken straight
 * from the quantised bytes, so the weights stream through once at memory speed. A batch (prefill,
 * speculative verification) is a matrix-matrix product: {@link #ROW_TILE} rows are decoded into
 * a small per-thread float buffer that stays in L1, then multiplied with {@link #BATCH_TILE}
 * inputs at a time, sixteen running sums in registers, so each weight is decoded once per batch
 * and each load feeds four multiply-adds.
 */
public final class CpuMatrix {
    /** Rows decoded together for the matrix-matrix product. */
    static final int ROW_TILE = 4;
    /** Inputs multiplied together with one row tile. */
    static final int BATCH_TILE = 4;
    /** Below this many multiply-adds a product runs on the calling thread alone. */
    public static final long PARALLEL_MIN_MACS = 1L << 16;
    /** Matrix-vector chunks handed out per thread: enough to balance, few enough to keep the shared counter cold. */
    private static final int CHUNKS_PER_THREAD = 8;
    /** Smallest matrix-vector chunk, in rows. */
    private static final int MIN_ROWS_PER_CHUNK = 16;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private final GgufTensor tensor;
    private final TensorFormat format;
    /** The integer-kernel copy of the weights for matrix-vector products, or null (see {@link PackedRows#of}). */
    private final PackedRows packed;
    /** How the inputs are rounded before the products, as llama.cpp rounds them for this weight type. */
    private final ActivationRounding rounding;
    public final int rows;
    public final int cols;

    public CpuMatrix(GgufTensor tensor) {
        this.tensor = tensor;
        this.format = TensorFormats.of(tensor);
        this.cols = Math.toIntExact(tensor.dim(0));
        this.rows = Math.toIntExact(tensor.rows());
        this.packed = PackedRows.of(tensor, format, rows, cols);
        this.rounding = ActivationRounding.of(tensor.type());
    }

    public String name() {
        return tensor.name();
    }

    /** Row {@code r} as floats (embedding lookup). */
    public void row(int r, float[] out, int outOff) {
        format.dequantize(tensor.data(), (long) r * cols, out, outOff, cols);
    }

    /**
     * out[b][outOff + r] = W[r] . x[b] for every row r and every batch entry b, on the team's
     * threads (or the calling thread alone when {@code team} is null or the product is small).
     */
    public void multiply(float[][] x, float[][] out, int outOff, ThreadTeam team) {
        boolean alone = team == null || team.size() == 1 || (long) rows * cols * x.length < PARALLEL_MIN_MACS;
        if (x.length == 1) {
            float[] o0 = out[0];
            PackedRows.Input in = packed == null ? null : new PackedRows.Input(packed, x[0], rounding);
            float[] x0 = in == null ? rounding.rounded(x[0], cols) : x[0];
            if (alone) {
                gemvRows(x0, in, o0, outOff, 0, rows);
                return;
            }
            int chunk = Math.max(MIN_ROWS_PER_CHUNK, Math.ceilDiv(rows, team.size() * CHUNKS_PER_THREAD));
            team.parallelFor(rows, chunk, (worker, from, to) -> gemvRows(x0, in, o0, outOff, from, to));
            return;
        }
        if (rounding != ActivationRounding.NONE) {
            float[][] r = new float[x.length][];
            for (int b = 0; b < x.length; b++) r[b] = rounding.rounded(x[b], cols);
            x = r;
        }
        float[][] xs = x;
        int tiles = Math.ceilDiv(rows, ROW_TILE);
        if (alone) {
            float[] w = new float[ROW_TILE * cols];
            gemmTiles(xs, out, outOff, 0, tiles, w);
            return;
        }
        int chunk = Math.max(1, tiles / (team.size() * CHUNKS_PER_THREAD));
        team.parallelFor(tiles, chunk, (worker, from, to) -> gemmTiles(xs, out, outOff, from, to, team.scratch(worker, ROW_TILE * cols)));
    }

    private void gemvRows(float[] x, PackedRows.Input in, float[] out, int outOff, int from, int to) {
        if (in == null) {
            for (int r = from; r < to; r++) out[outOff + r] = format.dot(tensor.data(), (long) r * cols, x, 0, cols);
            return;
        }
        for (int r = from; r < to; r++) out[outOff + r] = packed.dot(r, in);
    }

    private void gemmTiles(float[][] x, float[][] out, int outOff, int fromTile, int toTile, float[] w) {
        for (int t = fromTile; t < toTile; t++) {
            int r0 = t * ROW_TILE, n = Math.min(ROW_TILE, rows - r0);
            format.dequantize(tensor.data(), (long) r0 * cols, w, 0, n * cols);
            if (n < ROW_TILE) {
                for (int r = 0; r < n; r++) {
                    for (int b = 0; b < x.length; b++) out[b][outOff + r0 + r] = VectorMath.dot(w, r * cols, x[b], 0, cols);
                }
                continue;
            }
            int b = 0;
            for (; b + BATCH_TILE <= x.length; b += BATCH_TILE) tile4x4(w, cols, x, b, out, outOff + r0);
            for (; b < x.length; b++) tile4x1(w, cols, x[b], out[b], outOff + r0);
        }
    }

    /** Rows 0..3 of w times inputs b..b+3: sixteen sums, each input and weight vector loaded once. */
    private static void tile4x4(float[] w, int cols, float[][] x, int b, float[][] out, int at) {
        float[] x0 = x[b], x1 = x[b + 1], x2 = x[b + 2], x3 = x[b + 3];
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int k = 0;
        for (int bound = S.loopBound(cols); k < bound; k += L) {
            FloatVector w0 = FloatVector.fromArray(S, w, k), w1 = FloatVector.fromArray(S, w, cols + k);
            FloatVector w2 = FloatVector.fromArray(S, w, 2 * cols + k), w3 = FloatVector.fromArray(S, w, 3 * cols + k);
            FloatVector v = FloatVector.fromArray(S, x0, k);
            a00 = w0.fma(v, a00);
            a10 = w1.fma(v, a10);
            a20 = w2.fma(v, a20);
            a30 = w3.fma(v, a30);
            v = FloatVector.fromArray(S, x1, k);
            a01 = w0.fma(v, a01);
            a11 = w1.fma(v, a11);
            a21 = w2.fma(v, a21);
            a31 = w3.fma(v, a31);
            v = FloatVector.fromArray(S, x2, k);
            a02 = w0.fma(v, a02);
            a12 = w1.fma(v, a12);
            a22 = w2.fma(v, a22);
            a32 = w3.fma(v, a32);
            v = FloatVector.fromArray(S, x3, k);
            a03 = w0.fma(v, a03);
            a13 = w1.fma(v, a13);
            a23 = w2.fma(v, a23);
            a33 = w3.fma(v, a33);
        }
        store(out[b], at, LaneSum.of(a00), LaneSum.of(a10), LaneSum.of(a20), LaneSum.of(a30), w, cols, x0, k);
        store(out[b + 1], at, LaneSum.of(a01), LaneSum.of(a11), LaneSum.of(a21), LaneSum.of(a31), w, cols, x1, k);
        store(out[b + 2], at, LaneSum.of(a02), LaneSum.of(a12), LaneSum.of(a22), LaneSum.of(a32), w, cols, x2, k);
        store(out[b + 3], at, LaneSum.of(a03), LaneSum.of(a13), LaneSum.of(a23), LaneSum.of(a33), w, cols, x3, k);
    }

    private static void tile4x1(float[] w, int cols, float[] x, float[] out, int at) {
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (int bound = S.loopBound(cols); k < bound; k += L) {
            FloatVector v = FloatVector.fromArray(S, x, k);
            a0 = FloatVector.fromArray(S, w, k).fma(v, a0);
            a1 = FloatVector.fromArray(S, w, cols + k).fma(v, a1);
            a2 = FloatVector.fromArray(S, w, 2 * cols + k).fma(v, a2);
            a3 = FloatVector.fromArray(S, w, 3 * cols + k).fma(v, a3);
        }
        store(out, at, LaneSum.of(a0), LaneSum.of(a1), LaneSum.of(a2), LaneSum.of(a3), w, cols, x, k);
    }

    /**
     * Stores the four row sums of one input, adding the columns past the last whole vector. It
     * takes the sums as floats: vectors passed to a method the JIT does not inline are boxed.
     */
    private static void store(float[] out, int at, float s0, float s1, float s2, float s3,
                              float[] w, int cols, float[] x, int tail) {
        for (int k = tail; k < cols; k++) {
            s0 += w[k] * x[k];
            s1 += w[cols + k] * x[k];
            s2 += w[2 * cols + k] * x[k];
            s3 += w[3 * cols + k] * x[k];
        }
        out[at] = s0;
        out[at + 1] = s1;
        out[at + 2] = s2;
        out[at + 3] = s3;
    }
}
