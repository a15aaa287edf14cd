package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.CHUNK;
import static dev.specula.tensor.Lanes.chunk;
import static dev.specula.tensor.Lanes.field;

/**
 * Q3_K: super-blocks of 256 weights, 110 bytes: 32 bytes {@code hmask} of high bits, 64 bytes
 * {@code qs} of 2-bit parts, 12 bytes of 6-bit signed scales ({@link SixBitScales#q3Scale}),
 * fp16 {@code d}. Each half n (128 weights) reads qs[32n ..]: weight 128n + 32j + l (l < 32)
 * is bits 2j..2j+1 of qs[32n + l], and bit 4n+j of hmask[l] set means +0, clear means -4.
 * Weight = (d × scale) × value, one scale per 16 weights.
 */
final class Q3_KFormat extends BlockFormat {
    private static final int QS = 32;
    private static final int SCALES = 96;
    private static final int D = 108;
    private static final int ROW = 32;
    private static final int HALF = 128;
    private static final int SUB = 16;
    private static final int SUBS = 16;
    private static final int DROP = 4;
    private static final int TOP = 3;

    Q3_KFormat() {
        super(GgmlType.Q3_K);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at + D);
            for (int n = 0; n < 2; n++) {
                for (int j = 0; j < 4; j++) {
                    int bit = 1 << (4 * n + j);
                    for (int l = 0; l < ROW; l++) {
                        float dl = d * SixBitScales.q3Scale(src, at + SCALES, 8 * n + 2 * j + l / SUB);
                        int q = LittleEndian.u8(src, at + QS + ROW * n + l) >> 2 * j & 3;
                        int dropped = (LittleEndian.u8(src, at + l) & bit) != 0 ? 0 : DROP;
                        dst[o + HALF * n + ROW * j + l] = dl * (q - dropped);
                    }
                }
            }
        }
    }

    /** Values of weights 128n + 32j + c .. +16: the 2-bit part, plus 4 where the high bit is set, minus 4. */
    private static ByteVector values(ByteVector q, ByteVector h, int n, int j) {
        return field(q, 2 * j, 2).or(Lanes.ifBitSet(h, 4 * n + j, DROP)).sub((byte) DROP);
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        float[] scales = new float[SUBS];
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            SixBitScales.unpackQ3(src, at + SCALES, LittleEndian.f16(src, at + D), scales);
            for (int c = 0; c < ROW; c += CHUNK) {
                ByteVector h = chunk(src, at + c);
                for (int n = 0; n < 2; n++) {
                    ByteVector q = chunk(src, at + QS + ROW * n + c);
                    for (int j = 0; j < 4; j++) {
                        float dl = scales[8 * n + 2 * j + c / SUB];
                        Lanes.store(values(q, h, n, j), dl, dst, o + HALF * n + ROW * j + c);
                    }
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        float[] scales = new float[SUBS];
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            SixBitScales.unpackQ3(w, at + SCALES, LittleEndian.f16(w, at + D), scales);
            for (int c = 0; c < ROW; c += CHUNK) {
                ByteVector h = chunk(w, at + c);
                for (int n = 0; n < 2; n++) {
                    ByteVector q = chunk(w, at + QS + ROW * n + c);
                    for (int j = 0; j < 4; j++) {
                        float dl = scales[8 * n + 2 * j + c / SUB];
                        FloatVector qx = Lanes.accumulate(values(q, h, n, j), x, o + HALF * n + ROW * j + c, Lanes.zero());
                        acc = Lanes.addScaled(qx, dl, acc);
                    }
                }
            }
        }
        return LaneSum.of(acc);
    }

    /**
     * Simplified ({@link SimpleKQuantizer#symmetric}, non-negative scales only), not ggml's
     * {@code quantize_row_q3_K_ref}.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        int maxCode = SixBitScales.MAX - SixBitScales.Q3_BIAS;
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            SimpleKQuantizer.Fit fit = SimpleKQuantizer.symmetric(src, i, SUBS, SUB, TOP, maxCode);
            int[] levels = SimpleKQuantizer.levelsSymmetric(src, i, SUBS, SUB, TOP, fit);
            int[] stored = new int[SUBS];
            for (int j = 0; j < SUBS; j++) {
                stored[j] = fit.scales()[j] + SixBitScales.Q3_BIAS;
            }
            SixBitScales.packQ3(stored, dst, at + SCALES);
            LittleEndian.putF16(dst, at + D, fit.d());
            int[] hmask = new int[ROW];
            for (int n = 0; n < 2; n++) {
                for (int l = 0; l < ROW; l++) {
                    int packed = 0;
                    for (int j = 0; j < 4; j++) {
                        int v = levels[HALF * n + ROW * j + l] + DROP;
                        packed |= (v & 3) << 2 * j;
                        hmask[l] |= (v >> 2) << (4 * n + j);
                    }
                    LittleEndian.putU8(dst, at + QS + ROW * n + l, packed);
                }
            }
            for (int l = 0; l < ROW; l++) {
                LittleEndian.putU8(dst, at + l, hmask[l]);
            }
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return false;
    }
}
