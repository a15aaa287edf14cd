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
 * Q5_0: blocks of 32 weights, 22 bytes: fp16 scale {@code d}, a 32-bit word of fifth bits (bit j
 * for weight j), then 16 bytes of nibbles laid out as in Q4_0; weight = (5-bit value - 16) × d.
 */
final class Q5_0Format extends BlockFormat implements IntegerBlocks {
    private static final int QH = 2;
    private static final int QS = 6;
    private static final int OFFSET = 16;
    private static final int TOP = 31;

    Q5_0Format() {
        super(GgmlType.Q5_0);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            int qh = FifthBits.word(src, at + QH);
            for (int j = 0; j < CHUNK; j++) {
                int q = LittleEndian.u8(src, at + QS + j);
                dst[o + j] = (((q & 0xF) | FifthBits.of(qh, j)) - OFFSET) * d;
                dst[o + j + CHUNK] = (((q >> 4) | FifthBits.of(qh, j + CHUNK)) - OFFSET) * d;
            }
        }
    }

    private static ByteVector lowHalf(ByteVector q, int qh) {
        return lowNibbles(q).or(FifthBits.lanes(qh)).sub((byte) OFFSET);
    }

    private static ByteVector highHalf(ByteVector q, int qh) {
        return highNibbles(q).or(FifthBits.lanes(qh >>> CHUNK)).sub((byte) OFFSET);
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            int qh = FifthBits.word(src, at + QH);
            ByteVector q = chunk(src, at + QS);
            Lanes.store(lowHalf(q, qh), d, dst, o);
            Lanes.store(highHalf(q, qh), d, dst, o + CHUNK);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            int qh = FifthBits.word(w, at + QH);
            ByteVector q = chunk(w, at + QS);
            FloatVector qx = Lanes.accumulate(lowHalf(q, qh), x, o, Lanes.zero());
            qx = Lanes.accumulate(highHalf(q, qh), x, o + CHUNK, qx);
            acc = Lanes.addScaled(qx, LittleEndian.f16(w, at), acc);
        }
        return LaneSum.of(acc);
    }

    /** ggml's {@code quantize_row_q5_0_ref}: as Q4_0's, with d = (largest-magnitude value) / -16. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            float max = BlockStats.signedMax(src, i, blockSize);
            float d = max / -OFFSET;
            float id = d != 0 ? 1.0f / d : 0.0f;
            LittleEndian.putF16(dst, at, d);
            int qh = 0;
            for (int j = 0; j < CHUNK; j++) {
                int lo = Math.min(TOP, Rounding.truncate(src[i + j] * id + (OFFSET + 0.5f)));
                int hi = Math.min(TOP, Rounding.truncate(src[i + j + CHUNK] * id + (OFFSET + 0.5f)));
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
        return OFFSET;
    }

    @Override
    public boolean hasBias() {
        return false;
    }

    /** q = five-bit value - 16, scale = d, bias 0. */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int i = 0; i < count; i += blockSize, at += blockBytes) {
            scale[sOffset + i / blockSize] = LittleEndian.f16(src, at);
            int qh = FifthBits.word(src, at + QH);
            for (int j = 0; j < CHUNK; j++) {
                int b = LittleEndian.u8(src, at + QS + j);
                q[qOffset + i + j] = (byte) (((b & 0xF) | FifthBits.of(qh, j)) - OFFSET);
                q[qOffset + i + j + CHUNK] = (byte) (((b >> 4) | FifthBits.of(qh, j + CHUNK)) - OFFSET);
            }
        }
    }
}
