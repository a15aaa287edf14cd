package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.CHUNK;
import static dev.specula.tensor.Lanes.chunk;
import static dev.specula.tensor.Lanes.highNibbles;
import static dev.specula.tensor.Lanes.lowNibbles;

/**
 * Q4_K: super-blocks of 256 weights, 144 bytes: fp16 {@code d}, fp16 {@code dmin}, 12 bytes of
 * 6-bit scales and mins for 8 sub-blocks of 32 ({@link SixBitScales}), then 128 bytes of
 * nibbles. Each 32 bytes serve 64 weights: low nibbles sub-block 2k, high nibbles 2k+1.
 * Weight = (d × scale) × nibble - (dmin × min).
 */
final class Q4_KFormat extends BlockFormat implements IntegerBlocks {
    private static final int DMIN = 2;
    private static final int SCALES = 4;
    private static final int QS = 16;
    private static final int SUB = 32;
    private static final int SUBS = 8;
    private static final int TOP = 15;

    Q4_KFormat() {
        super(GgmlType.Q4_K);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            float dmin = LittleEndian.f16(src, at + DMIN);
            for (int k = 0; k < SUBS / 2; k++) {
                float d1 = d * SixBitScales.scale(src, at + SCALES, 2 * k);
                float m1 = dmin * SixBitScales.min(src, at + SCALES, 2 * k);
                float d2 = d * SixBitScales.scale(src, at + SCALES, 2 * k + 1);
                float m2 = dmin * SixBitScales.min(src, at + SCALES, 2 * k + 1);
                for (int l = 0; l < SUB; l++) {
                    int q = LittleEndian.u8(src, at + QS + SUB * k + l);
                    dst[o + 2 * SUB * k + l] = d1 * (q & 0xF) - m1;
                    dst[o + 2 * SUB * k + SUB + l] = d2 * (q >> 4) - m2;
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        float[] scales = new float[SUBS];
        float[] mins = new float[SUBS];
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            SixBitScales.unpack(src, at + SCALES, LittleEndian.f16(src, at), LittleEndian.f16(src, at + DMIN), scales, mins);
            for (int k = 0; k < SUBS / 2; k++) {
                float d1 = scales[2 * k];
                float m1 = mins[2 * k];
                float d2 = scales[2 * k + 1];
                float m2 = mins[2 * k + 1];
                for (int c = 0; c < SUB; c += CHUNK) {
                    ByteVector q = chunk(src, at + QS + SUB * k + c);
                    Lanes.store(lowNibbles(q), d1, -m1, dst, o + 2 * SUB * k + c);
                    Lanes.store(highNibbles(q), d2, -m2, dst, o + 2 * SUB * k + SUB + c);
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        float[] scales = new float[SUBS];
        float[] mins = new float[SUBS];
        FloatVector lowAcc = Lanes.zero();
        FloatVector highAcc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            SixBitScales.unpack(w, at + SCALES, LittleEndian.f16(w, at), LittleEndian.f16(w, at + DMIN), scales, mins);
            for (int k = 0; k < SUBS / 2; k++) {
                float d1 = scales[2 * k];
                float m1 = mins[2 * k];
                float d2 = scales[2 * k + 1];
                float m2 = mins[2 * k + 1];
                for (int c = 0; c < SUB; c += CHUNK) {
                    ByteVector q = chunk(w, at + QS + SUB * k + c);
                    lowAcc = Lanes.accumulate(lowNibbles(q), d1, -m1, x, o + 2 * SUB * k + c, lowAcc);
                    highAcc = Lanes.accumulate(highNibbles(q), d2, -m2, x, o + 2 * SUB * k + SUB + c, highAcc);
                }
            }
        }
        return LaneSum.of(lowAcc.add(highAcc));
    }

    /** Simplified ({@link SimpleKQuantizer}), not ggml's {@code quantize_row_q4_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            SimpleKQuantizer.Fit fit = SimpleKQuantizer.withMins(src, i, SUBS, SUB, TOP, SixBitScales.MAX);
            int[] levels = SimpleKQuantizer.levelsWithMins(src, i, SUBS, SUB, TOP, fit);
            LittleEndian.putF16(dst, at, fit.d());
            LittleEndian.putF16(dst, at + DMIN, fit.dmin());
            SixBitScales.pack(fit.scales(), fit.mins(), dst, at + SCALES);
            for (int k = 0; k < SUBS / 2; k++) {
                for (int l = 0; l < SUB; l++) {
                    int lo = levels[2 * SUB * k + l];
                    int hi = levels[2 * SUB * k + SUB + l];
                    LittleEndian.putU8(dst, at + QS + SUB * k + l, lo | hi << 4);
                }
            }
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return false;
    }

    @Override
    public int blockLength() {
        return SUB;
    }

    @Override
    public int maxMagnitude() {
        return 8;
    }

    @Override
    public boolean hasBias() {
        return true;
    }

    /** Per sub-block of 32: (d × sc) × nibble - dmin × m = s × (nibble - 8) + (8s - dmin × m). */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int i = 0; i < count; i += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at), dmin = LittleEndian.f16(src, at + DMIN);
            int s0 = sOffset + i / SUB;
            for (int j = 0; j < SUBS; j++) {
                float sc = d * SixBitScales.scale(src, at + SCALES, j);
                scale[s0 + j] = sc;
                bias[s0 + j] = 8 * sc - dmin * SixBitScales.min(src, at + SCALES, j);
            }
            for (int k = 0; k < SUBS / 2; k++) {
                for (int l = 0; l < SUB; l++) {
                    int b = LittleEndian.u8(src, at + QS + SUB * k + l);
                    q[qOffset + i + 2 * SUB * k + l] = (byte) ((b & 0xF) - 8);
                    q[qOffset + i + 2 * SUB * k + SUB + l] = (byte) ((b >> 4) - 8);
                }
            }
        }
    }
}
