package dev.specula.backend.cpu;

import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormat;
import dev.specula.tensor.TensorFormats;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * A 2-D weight tensor used as a matrix: {@code rows = shape[1]} outputs of {@code cols = shape[0]}
 * inputs, kept in the file's own format (never a dequantised copy).
 */
public final class CpuMatrix {
    /** Output rows one task computes; small enough to balance, large enough to amortise. */
    static final int ROWS_PER_TASK = 32;
    /** Below this many multiply-adds a fork-join round trip costs more than it saves. */
    public static final long PARALLEL_MIN_MACS = 1L << 18;

    private final GgufTensor tensor;
    private final TensorFormat format;
    public final int rows;
    public final int cols;

    public CpuMatrix(GgufTensor tensor) {
        this.tensor = tensor;
        this.format = TensorFormats.of(tensor);
        this.cols = Math.toIntExact(tensor.dim(0));
        this.rows = Math.toIntExact(tensor.rows());
    }

    public String name() {
        return tensor.name();
    }

    /** Row {@code r} as floats (embedding lookup). */
    public void row(int r, float[] out, int outOff) {
        format.dequantize(tensor.data(), (long) r * cols, out, outOff, cols);
    }

    /**
     * out[b][outOff + r] = W[r] . x[b] for every row r and every batch entry b. With a batch the
     * weight row is decoded once and reused for each entry: the matrix-matrix form prefill needs.
     */
    public void multiply(float[][] x, float[][] out, int outOff, ForkJoinPool pool) {
        int tasks = Math.ceilDiv(rows, ROWS_PER_TASK);
        if (pool == null || (long) rows * cols * x.length < PARALLEL_MIN_MACS) {
            for (int t = 0; t < tasks; t++) multiplyRows(t, x, out, outOff);
            return;
        }
        Runnable body = () -> IntStream.range(0, tasks).parallel().forEach(t -> multiplyRows(t, x, out, outOff));
        pool.submit(body).join();
    }

    private void multiplyRows(int task, float[][] x, float[][] out, int outOff) {
        int from = task * ROWS_PER_TASK, to = Math.min(rows, from + ROWS_PER_TASK);
        if (x.length == 1) {
            float[] x0 = x[0], o0 = out[0];
            for (int r = from; r < to; r++) o0[outOff + r] = format.dot(tensor.data(), (long) r * cols, x0, 0, cols);
            return;
        }
        float[] w = new float[cols];
        for (int r = from; r < to; r++) {
            format.dequantize(tensor.data(), (long) r * cols, w, 0, cols);
            for (int b = 0; b < x.length; b++) out[b][outOff + r] = VectorMath.dot(w, 0, x[b], 0, cols);
        }
    }
}
