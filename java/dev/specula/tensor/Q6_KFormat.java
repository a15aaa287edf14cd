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
import static dev.specula.tensor.Lanes.moveField;

/**
 * Q6_K: super-blocks of 256 weights, 210 bytes: 128 bytes {@code ql} of low nibbles, 64 bytes
 * {@code qh} of 2-bit high parts, 16 signed-byte scales (one per 16 weights), fp16 {@code d}.
 * Each half (128 weights) uses 64 bytes of ql and 32 of qh: for l < 32, weights l, l+32, l+64,
 * l+96 are the low nibble of ql[l], of ql[l+32], the high nibble of ql[l], of ql[l+32], with
 * bits 0-1, 2-3, 4-5, 6-7 of qh[l] on top. Weight = (d × scale) × (6-bit value - 32).
 */
final class Q6_KFormat extends BlockFormat implements IntegerBlocks {
    private static final int QH = 128;
    private static final int SCALES = 192;
    private static final int D = 208;
    private static final int HALF = 128;
    private static final int ROW = 32;
    private static final int OFFSET = 32;
    private static final int TOP = 31;
    private static final int MAX_SCALE = 127;
    private static final int SUB = 16;
    private static final int SUBS = 16;

    Q6_KFormat() {
        super(GgmlType.Q6_K);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at + D);
            for (int n = 0; n < 2; n++) {
                long ql = at + 64L * n;
                long qh = at + QH + 32L * n;
                long sc = at + SCALES + 8L * n;
                int y = o + HALF * n;
                for (int l = 0; l < ROW; l++) {
                    int is = l / SUB;
                    int a = LittleEndian.u8(src, ql + l);
                    int b = LittleEndian.u8(src, ql + l + ROW);
                    int h = LittleEndian.u8(src, qh + l);
                    dst[y + l] = d * LittleEndian.i8(src, sc + is) * (((a & 0xF) | (h & 3) << 4) - OFFSET);
                    dst[y + l + 32] = d * LittleEndian.i8(src, sc + is + 2) * (((b & 0xF) | (h >> 2 & 3) << 4) - OFFSET);
                    dst[y + l + 64] = d * LittleEndian.i8(src, sc + is + 4) * (((a >> 4) | (h >> 4 & 3) << 4) - OFFSET);
                    dst[y + l + 96] = d * LittleEndian.i8(src, sc + is + 6) * (((b >> 4) | (h >> 6 & 3) << 4) - OFFSET);
                }
            }
        }
    }

    /**
     * The block's 16 scales times d, as the definition computes them. The vector paths unpack
     * them first, in a plain loop, to keep their own loop bodies small enough for the JIT to
     * inline every Vector API call in them.
     */
    private static void unpackScales(MemorySegment s, long at, float[] scales) {
        float d = LittleEndian.f16(s, at + D);
        for (int j = 0; j < SUBS; j++) {
            scales[j] = d * LittleEndian.i8(s, at + SCALES + j);
        }
    }

    /** The 16 values of quarter {@code g} (weights 32g + c .. +16 of a half), from chunks of ql, ql+32 and qh. */
    private static ByteVector values(ByteVector a, ByteVector b, ByteVector h, int g) {
        ByteVector low = switch (g) {
            case 0 -> lowNibbles(a);
            case 1 -> lowNibbles(b);
            case 2 -> highNibbles(a);
            default -> highNibbles(b);
        };
        return low.or(moveField(h, 2 * g, 4, 2)).sub((byte) OFFSET);
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        float[] scales = new float[SUBS];
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            unpackScales(src, at, scales);
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < ROW; c += CHUNK) {
                    ByteVector a = chunk(src, at + 64L * n + c);
                    ByteVector b = chunk(src, at + 64L * n + ROW + c);
                    ByteVector h = chunk(src, at + QH + 32L * n + c);
                    for (int g = 0; g < 4; g++) {
                        float scale = scales[8 * n + c / SUB + 2 * g];
                        Lanes.store(values(a, b, h, g), scale, dst, o + HALF * n + ROW * g + c);
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
            unpackScales(w, at, scales);
            for (int n = 0; n < 2; n++) {
                for (int c = 0; c < ROW; c += CHUNK) {
                    ByteVector a = chunk(w, at + 64L * n + c);
                    ByteVector b = chunk(w, at + 64L * n + ROW + c);
                    ByteVector h = chunk(w, at + QH + 32L * n + c);
                    for (int g = 0; g < 4; g++) {
                        float scale = scales[8 * n + c / SUB + 2 * g];
                        FloatVector qx = Lanes.accumulate(values(a, b, h, g), x, o + HALF * n + ROW * g + c, Lanes.zero());
                        acc = Lanes.addScaled(qx, scale, acc);
                    }
                }
            }
        }
        return LaneSum.of(acc);
    }

    /** Simplified ({@link SimpleKQuantizer#symmetric}), not ggml's {@code quantize_row_q6_K_ref}. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            SimpleKQuantizer.Fit fit = SimpleKQuantizer.symmetric(src, i, SUBS, SUB, TOP, MAX_SCALE);
            int[] levels = SimpleKQuantizer.levelsSymmetric(src, i, SUBS, SUB, TOP, fit);
            LittleEndian.putF16(dst, at + D, fit.d());
            for (int j = 0; j < SUBS; j++) {
                LittleEndian.putU8(dst, at + SCALES + j, fit.scales()[j]);
            }
            for (int n = 0; n < 2; n++) {
                for (int l = 0; l < ROW; l++) {
                    int[] v = new int[4];
                    for (int g = 0; g < 4; g++) {
                        v[g] = levels[HALF * n + ROW * g + l] + OFFSET;
                    }
                    LittleEndian.putU8(dst, at + 64L * n + l, (v[0] & 0xF) | (v[2] & 0xF) << 4);
                    LittleEndian.putU8(dst, at + 64L * n + ROW + l, (v[1] & 0xF) | (v[3] & 0xF) << 4);
                    LittleEndian.putU8(dst, at + QH + 32L * n + l, v[0] >> 4 | (v[1] >> 4) << 2 | (v[2] >> 4) << 4 | (v[3] >> 4) << 6);
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
        return OFFSET;
    }

    @Override
    public boolean hasBias() {
        return false;
    }

    /** Per sub-block of 16: q = six-bit value - 32, scale = d × sc, bias 0. */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int o = qOffset; o < qOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at + D);
            int s0 = sOffset + (o - qOffset) / SUB;
            for (int j = 0; j < SUBS; j++) scale[s0 + j] = d * LittleEndian.i8(src, at + SCALES + j);
            for (int n = 0; n < 2; n++) {
                long ql = at + 64L * n;
                long qh = at + QH + 32L * n;
                int y = o + HALF * n;
                for (int l = 0; l < ROW; l++) {
                    int a = LittleEndian.u8(src, ql + l);
                    int b = LittleEndian.u8(src, ql + l + ROW);
                    int h = LittleEndian.u8(src, qh + l);
                    q[y + l] = (byte) (((a & 0xF) | (h & 3) << 4) - OFFSET);
                    q[y + l + 32] = (byte) (((b & 0xF) | (h >> 2 & 3) << 4) - OFFSET);
                    q[y + l + 64] = (byte) (((a >> 4) | (h >> 4 & 3) << 4) - OFFSET);
                    q[y + l + 96] = (byte) (((b >> 4) | (h >> 6 & 3) << 4) - OFFSET);
                }
            }
        }
    }
}
