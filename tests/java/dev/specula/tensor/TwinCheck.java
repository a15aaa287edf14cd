package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

/**
 * Checks a format's vector paths against its scalar twins on random tensors: dequantize must
 * agree bit for bit, dot within {@link #DOT_TOLERANCE} of the sum of |w·x| (the two sum in
 * different orders). Row lengths span several blocks (odd counts, and for float types lengths
 * that leave a tail past the last whole vector), read from past the start of the segment, into
 * arrays at non-zero offsets, from both heap and native memory.
 *
 * <p>Plain Java without JUnit, so that {@link VectorWidthMain} can run it in a JVM started with
 * another vector width.
 */
final class TwinCheck {
    static final double DOT_TOLERANCE = 1e-5;
    static final int[] BLOCK_COUNTS = {1, 3, 7, 13};
    static final int[] FLOAT_LENGTHS = {1, 7, 16, 33, 100, 1001};
    private static final int DST_OFFSET = 3;
    private static final int X_OFFSET = 5;

    private TwinCheck() {}

    static int[] lengths(GgmlType type) {
        return type.blockSize == 1 ? FLOAT_LENGTHS : Arrays.stream(BLOCK_COUNTS).map(n -> n * type.blockSize).toArray();
    }

    static void check(GgmlType type, long seed) {
        TensorFormat format = TensorFormats.of(type);
        Random rng = new Random(seed);
        for (int count : lengths(type)) {
            int lead = 2 * type.blockSize;
            byte[] bytes = RandomBlocks.of(type, lead + count, rng);
            float[] x = RandomBlocks.gaussians(X_OFFSET + count, rng);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment heap = MemorySegment.ofArray(bytes);
                MemorySegment offHeap = arena.allocate(bytes.length);
                offHeap.copyFrom(heap);
                for (MemorySegment seg : new MemorySegment[] {heap, offHeap}) {
                    String where = type + ", " + count + " elements from element " + lead + (seg.isNative() ? ", native" : ", heap")
                            + ", " + TensorFormats.vectorLanes() + " lanes";
                    checkDequantize(format, seg, lead, count, where);
                    checkDot(format, seg, lead, x, count, where);
                }
            }
        }
    }

    private static void checkDequantize(TensorFormat format, MemorySegment seg, int first, int count, String where) {
        float[] vector = new float[DST_OFFSET + count];
        float[] scalar = new float[DST_OFFSET + count];
        format.dequantize(seg, first, vector, DST_OFFSET, count);
        format.dequantizeScalar(seg, first, scalar, DST_OFFSET, count);
        for (int i = 0; i < vector.length; i++) {
            if (Float.floatToIntBits(vector[i]) != Float.floatToIntBits(scalar[i])) {
                throw new AssertionError(where + ": dequantize gives " + vector[i] + " at " + (i - DST_OFFSET)
                        + ", dequantizeScalar " + scalar[i]);
            }
        }
    }

    private static void checkDot(TensorFormat format, MemorySegment seg, int first, float[] x, int count, String where) {
        float[] w = new float[count];
        format.dequantizeScalar(seg, first, w, 0, count);
        double magnitude = 0;
        for (int i = 0; i < count; i++) magnitude += Math.abs((double) w[i] * x[X_OFFSET + i]);
        float vector = format.dot(seg, first, x, X_OFFSET, count);
        float scalar = format.dotScalar(seg, first, x, X_OFFSET, count);
        double error = Math.abs((double) vector - scalar);
        if (!(error <= DOT_TOLERANCE * magnitude + Float.MIN_NORMAL)) {
            throw new AssertionError(where + ": dot " + vector + " vs dotScalar " + scalar + ", error " + error
                    + " over sum|w*x| " + magnitude);
        }
    }
}
