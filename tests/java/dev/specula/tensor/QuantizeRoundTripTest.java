package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Quantize then dequantize stays within each format's error bound. Bounds are per weight, from
 * the statistics of the group its scale covers (see {@link #bound}); they are what the format's
 * step size allows, so a wrong level, bit or scale breaks them.
 */
class QuantizeRoundTripTest {
    private static final int SUPER = 256;

    static Stream<GgmlType> formats() {
        return TensorFormats.supported().stream();
    }

    /** Weights of the kinds models hold, and the corner cases of the scale arithmetic. */
    static float[][] samples(GgmlType type) {
        Random rng = new Random(4000 + type.id);
        int n = 4 * SUPER;
        float[] gaussian = RandomBlocks.gaussians(n, rng);
        float[] small = new float[n];
        float[] outliers = new float[n];
        float[] skewed = new float[n];
        for (int i = 0; i < n; i++) {
            small[i] = gaussian[i] * 0.02f;
            outliers[i] = i % 97 == 0 ? gaussian[i] * 40 : gaussian[i];
            skewed[i] = Math.abs(gaussian[i]) + (i / SUPER % 2 == 0 ? 3 : -5);
        }
        float[] zeros = new float[n];
        float[] constant = new float[n];
        Arrays.fill(constant, -0.75f);
        return new float[][] {gaussian, small, outliers, skewed, zeros, constant};
    }

    @ParameterizedTest
    @MethodSource("formats")
    void quantizeThenDequantizeStaysWithinTheFormatsErrorBound(GgmlType type) {
        TensorFormat format = TensorFormats.of(type);
        for (float[] x : samples(type)) {
            float[] back = format.dequantize(format.quantize(x), x.length);
            for (int i = 0; i < x.length; i++) {
                double error = Math.abs((double) back[i] - x[i]);
                double bound = bound(type, x, i);
                if (!(error <= bound)) {
                    throw new AssertionError(type + ": weight " + i + " = " + x[i] + " came back as " + back[i]
                            + ", error " + error + " > bound " + bound);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void quantizingIntoTheMiddleOfASegmentWritesOnlyThoseBlocks(GgmlType type) {
        TensorFormat format = TensorFormats.of(type);
        int block = type.blockSize == 1 ? 8 : type.blockSize;
        float[] x = RandomBlocks.gaussians(5 * block, new Random(5000 + type.id));
        byte[] whole = new byte[Math.toIntExact(type.bytesFor(9L * block))];
        Arrays.fill(whole, (byte) 0x5A);
        format.quantize(x, block, MemorySegment.ofArray(whole), 2L * block, 3 * block);
        byte[] alone = new byte[Math.toIntExact(type.bytesFor(3L * block))];
        format.quantize(Arrays.copyOfRange(x, block, 4 * block), 0, MemorySegment.ofArray(alone), 0, 3 * block);
        int start = Math.toIntExact(type.bytesFor(2L * block));
        assertArrayEquals(alone, Arrays.copyOfRange(whole, start, start + alone.length), type + ": the blocks written");
        for (int i = 0; i < whole.length; i++) {
            if (i < start || i >= start + alone.length) assertEquals((byte) 0x5A, whole[i], type + ": byte " + i + " outside the run");
        }
    }

    @Test
    void q8_0QuantizerRoundsTiesAwayFromZeroAsCRoundf() {
        // amax 127 makes d = 1 exactly, so each weight's level is round(x) itself.
        float[] x = new float[32];
        x[0] = 127;
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 0.5f;
        x[4] = -0.5f;
        x[5] = 1.4999999f;
        byte[] q = new byte[34];
        TensorFormats.of(GgmlType.Q8_0).quantize(x, 0, MemorySegment.ofArray(q), 0, 32);
        assertArrayEquals(new byte[] {127, 3, -3, 1, -1, 1}, Arrays.copyOfRange(q, 2, 8));
    }

    @Test
    void onlyTheGgmlReferenceQuantizersClaimToBeExact() {
        for (GgmlType type : TensorFormats.supported()) {
            boolean reference = switch (type) {
                case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 -> true;
                default -> false;
            };
            assertEquals(reference, TensorFormats.of(type).quantizesLikeGgml(), type.name());
        }
    }

    @Test
    void runsThatAreNotWholeBlocksAreRejected() {
        TensorFormat q4 = TensorFormats.of(GgmlType.Q4_0);
        MemorySegment seg = MemorySegment.ofArray(new byte[18 * 4]);
        float[] buf = new float[128];
        assertThrows(IllegalArgumentException.class, () -> q4.dequantize(seg, 16, buf, 0, 32));
        assertThrows(IllegalArgumentException.class, () -> q4.dequantize(seg, 0, buf, 0, 48));
        assertThrows(IllegalArgumentException.class, () -> q4.dot(seg, 0, buf, 0, 20));
        assertThrows(IllegalArgumentException.class, () -> q4.quantize(buf, 0, seg, 1, 32));
        assertThrows(IndexOutOfBoundsException.class, () -> q4.dequantize(seg, 0, buf, 100, 64));
        assertThrows(IndexOutOfBoundsException.class, () -> q4.dot(seg, 96, buf, 0, 64));
    }

    /**
     * The largest error one weight may have after a round trip. For the ggml reference schemes
     * this is half a step (a full step for the level Q4_0/Q5_0 cannot reach) plus the rounding
     * of the scales to fp16; the simplified K-quant schemes allow about half a step of their
     * coded scale plus half a step of the coded min, rounded up to a round figure.
     */
    static double bound(GgmlType type, float[] x, int i) {
        int b32 = i / 32 * 32;
        int b256 = i / SUPER * SUPER;
        return switch (type) {
            case F32 -> 0;
            case F16 -> Math.abs(x[i]) * 0x1p-11 + 0x1p-25;
            case BF16 -> Math.abs(x[i]) * 0x1p-8;
            case Q8_0 -> amax(x, b32, 32) / 127 * 0.6;
            case Q4_0 -> amax(x, b32, 32) / 8 * 1.01;
            case Q5_0 -> amax(x, b32, 32) / 16 * 1.01;
            case Q4_1 -> spread(x, b32, 32) / 15 * 0.55 + Math.abs(min(x, b32, 32)) * 0x1p-10;
            case Q5_1 -> spread(x, b32, 32) / 31 * 0.55 + Math.abs(min(x, b32, 32)) * 0x1p-10;
            case IQ4_NL -> amax(x, b32, 32) * 0.15;
            case IQ4_XS -> amax(x, b32, 32) * 0.15 + amax(x, b256, SUPER) / 32;
            case Q2_K -> spanWithZero(x, b256, SUPER) * 0.25;
            case Q3_K -> amax(x, b256, SUPER) * 0.16;
            case Q4_K -> spanWithZero(x, b256, SUPER) * 0.05;
            case Q5_K -> spanWithZero(x, b256, SUPER) * 0.03;
            case Q6_K -> amax(x, b256, SUPER) * 0.02;
            default -> throw new IllegalArgumentException(type.name());
        };
    }

    private static double amax(float[] x, int from, int n) {
        double m = 0;
        for (int i = from; i < from + n; i++) m = Math.max(m, Math.abs(x[i]));
        return m;
    }

    private static double min(float[] x, int from, int n) {
        double m = Double.MAX_VALUE;
        for (int i = from; i < from + n; i++) m = Math.min(m, x[i]);
        return m;
    }

    private static double spread(float[] x, int from, int n) {
        double max = -Double.MAX_VALUE;
        for (int i = from; i < from + n; i++) max = Math.max(max, x[i]);
        return max - min(x, from, n);
    }

    /** max(0, largest) - min(0, smallest): the range the K-quants' non-negative mins must cover. */
    private static double spanWithZero(float[] x, int from, int n) {
        double max = 0;
        for (int i = from; i < from + n; i++) max = Math.max(max, x[i]);
        return max - Math.min(0, min(x, from, n));
    }

    @Test
    void boundsAreTightEnoughToNoticeALostBit() {
        // A sanity check of the bounds themselves: flipping one level of a Q4_0 block by one
        // step already breaks the bound for that weight.
        float[] x = RandomBlocks.gaussians(32, new Random(7));
        TensorFormat q4 = TensorFormats.of(GgmlType.Q4_0);
        MemorySegment q = q4.quantize(x);
        q.set(java.lang.foreign.ValueLayout.JAVA_BYTE, 2, (byte) (q.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 2) ^ 0x04));
        float[] back = q4.dequantize(q, 32);
        assertTrue(Math.abs(back[0] - x[0]) > bound(GgmlType.Q4_0, x, 0) / 2, "a 4-step error should stand out");
    }
}
