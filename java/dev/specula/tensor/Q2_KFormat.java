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
 * Q2_K: super-blocks of 256 weights, 84 bytes: 16 bytes of scales (low nibble scale, high
 * nibble min, one pair per 16 weights), 64 bytes {@code qs} of 2-bit values, fp16 {@code d},
 * fp16 {@code dmin}. Weight 128n + 32j + l (l < 32) is bits 2j..2j+1 of qs[32n + l], with
 * scale pair 8n + 2j + l/16. Weight = (d × scale) × value - (dmin × min).
 */
final class Q2_KFormat extends BlockFormat {
    private static final int QS = 16;
    private static final int D = 80;
    private static final int DMIN = 82;
    private static final int ROW = 32;
    private static final int HALF = 128;
    private static final int SUB = 16;
    private static final int SUBS = 16;
    private static final int TOP = 3;
    private static final int MAX_CODE = 15;

    Q2_KFormat() {
        super(GgmlType.Q2_K);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at + D);
            float dmin = LittleEndian.f16(src, at + DMIN);
            for (int n = 0; n < 2; n++) {
                for (int j = 0; j < 4; j++) {
                    for (int l = 0; l < ROW; l++) {
                        int sc = LittleEndian.u8(src, at + 8 * n + 2 * j + l / SUB);
                        float dl = d * (sc & 0xF);
                        float ml = dmin * (sc >> 4);
                        int q = LittleEndian.u8(src, at + QS + ROW * n + l) >> 2 * j & 3;
                        dst[o + HALF * n + ROW * j + l] = dl * q - ml;
                    }
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at + D);
            float dmin = LittleEndian.f16(src, at + DMIN);
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < ROW; c += CHUNK) {
                    ByteVector q = chunk(src, at + QS + ROW * n + c);
                    for (int j = 0; j < 4; j++) {
                        int sc = LittleEndian.u8(src, at + 8 * n + 2 * j + c / SUB);
                        Lanes.store(field(q, 2 * j, 2), d * (sc & 0xF), -(dmin * (sc >> 4)), dst, o + HALF * n + ROW * j + c);
                    }
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(w, at + D);
            float dmin = LittleEndian.f16(w, at + DMIN);
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < ROW; c += CHUNK) {
                    ByteVector q = chunk(w, at + QS + ROW * n + c);
                    for (int j = 0; j < 4; j++) {
                        int sc = LittleEndian.u8(w, at + 8 * n + 2 * j + c / SUB);
                        acc = Lanes.accumulate(field(q, 2 * j, 2), d * (sc & 0xF), -(dmin * (sc >> 4)), x,
                                o + HALF * n + ROW * j + c, acc);
                    }
                }
            }
        }
        return LaneSum.of(acc);
    }

    /** Simplified ({@link SimpleKQuantizer#withMins}, 4-bit codes), not ggml's {@code quantize_row_q2_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            SimpleKQuantizer.Fit fit = SimpleKQuantizer.withMins(src, i, SUBS, SUB, TOP, MAX_CODE);
            int[] levels = SimpleKQuantizer.levelsWithMins(src, i, SUBS, SUB, TOP, fit);
            for (int j = 0; j < SUBS; j++) {
                LittleEndian.putU8(dst, at + j, fit.scales()[j] | fit.mins()[j] << 4);
            }
            LittleEndian.putF16(dst, at + D, fit.d());
            LittleEndian.putF16(dst, at + DMIN, fit.dmin());
            for (int n = 0; n < 2; n++) {
                for (int l = 0; l < ROW; l++) {
                    int packed = 0;
                    for (int j = 0; j < 4; j++) {
                        packed |= levels[HALF * n + ROW * j + l] << 2 * j;
                    }
                    LittleEndian.putU8(dst, at + QS + ROW * n + l, packed);
                }
            }
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return false;
    }
}
