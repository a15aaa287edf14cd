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
 * Q5_1: blocks of 32 weights, 24 bytes: fp16 scale {@code d}, fp16 minimum {@code m}, a 32-bit
 * word of fifth bits, then 16 bytes of nibbles as in Q4_0; weight = 5-bit value × d + m.
 */
final class Q5_1Format extends BlockFormat implements IntegerBlocks {
    private static final int M = 2;
    private static final int QH = 4;
    private static final int QS = 8;
    private static final int TOP = 31;

    Q5_1Format() {
        super(GgmlType.Q5_1);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            float m = LittleEndian.f16(src, at + M);
            int qh = FifthBits.word(src, at + QH);
            for (int j = 0; j < CHUNK; j++) {
                int q = LittleEndian.u8(src, at + QS + j);
                dst[o + j] = ((q & 0xF) | FifthBits.of(qh, j)) * d + m;
                dst[o + j + CHUNK] = ((q >> 4) | FifthBits.of(qh, j + CHUNK)) * d + m;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            float m = LittleEndian.f16(src, at + M);
            int qh = FifthBits.word(src, at + QH);
            ByteVector q = chunk(src, at + QS);
            Lanes.store(lowNibbles(q).or(FifthBits.lanes(qh)), d, m, dst, o);
            Lanes.store(highNibbles(q).or(FifthBits.lanes(qh >>> CHUNK)), d, m, dst, o + CHUNK);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(w, at);
            float m = LittleEndian.f16(w, at + M);
            int qh = FifthBits.word(w, at + QH);
            ByteVector q = chunk(w, at + QS);
            acc = Lanes.accumulate(lowNibbles(q).or(FifthBits.lanes(qh)), d, m, x, o, acc);
            acc = Lanes.accumulate(highNibbles(q).or(FifthBits.lanes(qh >>> CHUNK)), d, m, x, o + CHUNK, acc);
        }
        return LaneSum.of(acc);
    }

    /**
     * ggml's {@code quantize_row_q5_1_ref}: the block's [min, max] in 31 steps. Like ggml it does
     * not clamp the top level: only rounding at the very top could reach 32, which wraps.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            float min = BlockStats.min(src, i, blockSize);
            float max = BlockStats.max(src, i, blockSize);
            float d = (max - min) / TOP;
            float id = d != 0 ? 1.0f / d : 0.0f;
            LittleEndian.putF16(dst, at, d);
            LittleEndian.putF16(dst, at + M, min);
            int qh = 0;
            for (int j = 0; j < CHUNK; j++) {
                int lo = Rounding.truncate((src[i + j] - min) * id + 0.5f) & 0xFF;
                int hi = Rounding.truncate((src[i + j + CHUNK] - min) * id + 0.5f) & 0xFF;
                LittleEndian.putU8(dst, at + QS + j, (lo & 0xF) | (hi & 0xF) << 4);
                qh |= (lo >> 4 & 1) << j | (hi >> 4 & 1) << (j + CHUNK);
            }
            LittleEndian.putI32(dst, at + QH, qh);
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return true;
    }

    @Override
    public int blockLength() {
        return blockSize;
    }

    @Override
    public int maxMagnitude() {
        return 16;
    }

    @Override
    public boolean hasBias() {
        return true;
    }

    /** d × v + m = d × (v - 16) + (m + 16d), v the 5-bit value. */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int i = 0; i < count; i += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at), m = LittleEndian.f16(src, at + M);
            scale[sOffset + i / blockSize] = d;
            bias[sOffset + i / blockSize] = m + 16 * d;
            int qh = FifthBits.word(src, at + QH);
            for (int j = 0; j < CHUNK; j++) {
                int b = LittleEndian.u8(src, at + QS + j);
                q[qOffset + i + j] = (byte) (((b & 0xF) | FifthBits.of(qh, j)) - 16);
                q[qOffset + i + j + CHUNK] = (byte) (((b >> 4) | FifthBits.of(qh, j + CHUNK)) - 16);
            }
        }
    }
}
