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
 * Q4_1: blocks of 32 weights, 20 bytes: fp16 scale {@code d}, fp16 minimum {@code m}, then 16
 * bytes of nibbles laid out as in Q4_0; weight = nibble × d + m.
 */
final class Q4_1Format extends BlockFormat implements IntegerBlocks {
    private static final int M = 2;
    private static final int QS = 4;
    private static final int TOP = 15;

    Q4_1Format() {
        super(GgmlType.Q4_1);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            float m = LittleEndian.f16(src, at + M);
            for (int j = 0; j < CHUNK; j++) {
                int q = LittleEndian.u8(src, at + QS + j);
                dst[o + j] = (q & 0xF) * d + m;
                dst[o + j + CHUNK] = (q >> 4) * d + m;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            float m = LittleEndian.f16(src, at + M);
            ByteVector q = chunk(src, at + QS);
            Lanes.store(lowNibbles(q), d, m, dst, o);
            Lanes.store(highNibbles(q), d, m, dst, o + CHUNK);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(w, at);
            float m = LittleEndian.f16(w, at + M);
            ByteVector q = chunk(w, at + QS);
            acc = Lanes.accumulate(lowNibbles(q), d, m, x, o, acc);
            acc = Lanes.accumulate(highNibbles(q), d, m, x, o + CHUNK, acc);
        }
        return LaneSum.of(acc);
    }

    /** ggml's {@code quantize_row_q4_1_ref}: the block's [min, max] split into 15 equal steps. */
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
            for (int j = 0; j < CHUNK; j++) {
                int lo = Math.min(TOP, Rounding.truncate((src[i + j] - min) * id + 0.5f));
                int hi = Math.min(TOP, Rounding.truncate((src[i + j + CHUNK] - min) * id + 0.5f));
                LittleEndian.putU8(dst, at + QS + j, lo | hi << 4);
            }
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
        return 8;
    }

    @Override
    public boolean hasBias() {
        return true;
    }

    /** d × nibble + m = d × (nibble - 8) + (m + 8d): q = nibble - 8, scale = d, bias = m + 8d. */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int i = 0; i < count; i += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at), m = LittleEndian.f16(src, at + M);
            scale[sOffset + i / blockSize] = d;
            bias[sOffset + i / blockSize] = m + 8 * d;
            for (int j = 0; j < blockSize / 2; j++) {
                int b = LittleEndian.u8(src, at + QS + j);
                q[qOffset + i + j] = (byte) ((b & 0xF) - 8);
                q[qOffset + i + j + blockSize / 2] = (byte) ((b >> 4) - 8);
            }
        }
    }
}
