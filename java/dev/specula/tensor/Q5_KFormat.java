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
 * Q5_K: super-blocks of 256 weights, 176 bytes: fp16 {@code d}, fp16 {@code dmin}, 12 bytes of
 * 6-bit scales and mins ({@link SixBitScales}), 32 bytes {@code qh} of fifth bits, 128 bytes of
 * nibbles laid out as Q4_K's. The fifth bit of weight 64k + l (l < 32) is bit 2k of qh[l], of
 * weight 64k + 32 + l bit 2k+1. Weight = (d × scale) × value - (dmin × min).
 */
final class Q5_KFormat extends BlockFormat implements IntegerBlocks {
    private static final int DMIN = 2;
    private static final int SCALES = 4;
    private static final int QH = 16;
    private static final int QS = 48;
    private static final int SUB = 32;
    private static final int SUBS = 8;
    private static final int TOP = 31;
    /** What a set fifth bit adds to a weight's 4-bit value. */
    private static final int FIFTH_BIT_VALUE = 16;

    Q5_KFormat() {
        super(GgmlType.Q5_K);
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
                    int h = LittleEndian.u8(src, at + QH + l);
                    dst[o + 2 * SUB * k + l] = d1 * ((q & 0xF) + ((h >> 2 * k & 1) != 0 ? FIFTH_BIT_VALUE : 0)) - m1;
                    dst[o + 2 * SUB * k + SUB + l] = d2 * ((q >> 4) + ((h >> 2 * k + 1 & 1) != 0 ? FIFTH_BIT_VALUE : 0)) - m2;
                }
            }
        }
    }

    /** The 5-bit values of sub-block 2k (low nibbles of q, bit 2k of h). */
    private static ByteVector lowValues(ByteVector q, ByteVector h, int k) {
        return lowNibbles(q).or(Lanes.ifBitSet(h, 2 * k, FIFTH_BIT_VALUE));
    }

    /** The 5-bit values of sub-block 2k+1 (high nibbles of q, bit 2k+1 of h). */
    private static ByteVector highValues(ByteVector q, ByteVector h, int k) {
        return highNibbles(q).or(Lanes.ifBitSet(h, 2 * k + 1, FIFTH_BIT_VALUE));
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        float[] scales = new float[SUBS];
        float[] mins = new float[SUBS];
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            SixBitScales.unpack(src, at + SCALES, LittleEndian.f16(src, at), LittleEndian.f16(src, at + DMIN), scales, mins);
            for (int c = 0; c < SUB; c += CHUNK) {
                ByteVector h = chunk(src, at + QH + c);
                for (int k = 0; k < SUBS / 2; k++) {
                    float d1 = scales[2 * k];
                    float m1 = mins[2 * k];
                    float d2 = scales[2 * k + 1];
                    float m2 = mins[2 * k + 1];
                    ByteVector q = chunk(src, at + QS + SUB * k + c);
                    Lanes.store(lowValues(q, h, k), d1, -m1, dst, o + 2 * SUB * k + c);
                    Lanes.store(highValues(q, h, k), d2, -m2, dst, o + 2 * SUB * k + SUB + c);
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
            for (int c = 0; c < SUB; c += CHUNK) {
                ByteVector h = chunk(w, at + QH + c);
                for (int k = 0; k < SUBS / 2; k++) {
                    float d1 = scales[2 * k];
                    float m1 = mins[2 * k];
                    float d2 = scales[2 * k + 1];
                    float m2 = mins[2 * k + 1];
                    ByteVector q = chunk(w, at + QS + SUB * k + c);
                    lowAcc = Lanes.accumulate(lowValues(q, h, k), d1, -m1, x, o + 2 * SUB * k + c, lowAcc);
                    highAcc = Lanes.accumulate(highValues(q, h, k), d2, -m2, x, o + 2 * SUB * k + SUB + c, highAcc);
                }
            }
        }
        return LaneSum.of(lowAcc.add(highAcc));
    }

    /** Simplified ({@link SimpleKQuantizer}), not ggml's {@code quantize_row_q5_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            SimpleKQuantizer.Fit fit = SimpleKQuantizer.withMins(src, i, SUBS, SUB, TOP, SixBitScales.MAX);
            int[] levels = SimpleKQuantizer.levelsWithMins(src, i, SUBS, SUB, TOP, fit);
            LittleEndian.putF16(dst, at, fit.d());
            LittleEndian.putF16(dst, at + DMIN, fit.dmin());
            SixBitScales.pack(fit.scales(), fit.mins(), dst, at + SCALES);
            int[] qh = new int[SUB];
            for (int k = 0; k < SUBS / 2; k++) {
                for (int l = 0; l < SUB; l++) {
                    int lo = levels[2 * SUB * k + l];
                    int hi = levels[2 * SUB * k + SUB + l];
                    LittleEndian.putU8(dst, at + QS + SUB * k + l, (lo & 0xF) | (hi & 0xF) << 4);
                    qh[l] |= (lo >> 4) << 2 * k | (hi >> 4) << 2 * k + 1;
                }
            }
            for (int l = 0; l < SUB; l++) {
                LittleEndian.putU8(dst, at + QH + l, qh[l]);
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
        return FIFTH_BIT_VALUE;
    }

    @Override
    public boolean hasBias() {
        return true;
    }

    /** Per sub-block of 32: (d × sc) × v - dmin × m = s × (v - 16) + (16s - dmin × m), v the 5-bit value. */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int i = 0; i < count; i += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at), dmin = LittleEndian.f16(src, at + DMIN);
            int s0 = sOffset + i / SUB;
            for (int j = 0; j < SUBS; j++) {
                float sc = d * SixBitScales.scale(src, at + SCALES, j);
                scale[s0 + j] = sc;
                bias[s0 + j] = FIFTH_BIT_VALUE * sc - dmin * SixBitScales.min(src, at + SCALES, j);
            }
            for (int k = 0; k < SUBS / 2; k++) {
                for (int l = 0; l < SUB; l++) {
                    int b = LittleEndian.u8(src, at + QS + SUB * k + l);
                    int h = LittleEndian.u8(src, at + QH + l);
                    q[qOffset + i + 2 * SUB * k + l] = (byte) ((b & 0xF) + ((h >> 2 * k & 1) != 0 ? FIFTH_BIT_VALUE : 0) - FIFTH_BIT_VALUE);
                    q[qOffset + i + 2 * SUB * k + SUB + l] = (byte) ((b >> 4) + ((h >> 2 * k + 1 & 1) != 0 ? FIFTH_BIT_VALUE : 0) - FIFTH_BIT_VALUE);
                }
            }
        }
    }
}
