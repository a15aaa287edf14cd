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
 * Q4_0: blocks of 32 weights, 18 bytes: fp16 scale {@code d}, then 16 bytes whose low nibbles are
 * weights 0..15 and high nibbles weights 16..31; weight = (nibble - 8) × d.
 */
final class Q4_0Format extends BlockFormat implements IntegerBlocks {
    private static final int QS = 2;
    private static final int OFFSET = 8;

    Q4_0Format() {
        super(GgmlType.Q4_0);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            for (int j = 0; j < CHUNK; j++) {
                int q = LittleEndian.u8(src, at + QS + j);
                dst[o + j] = ((q & 0xF) - OFFSET) * d;
                dst[o + j + CHUNK] = ((q >> 4) - OFFSET) * d;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            ByteVector q = chunk(src, at + QS);
            Lanes.store(lowNibbles(q).sub((byte) OFFSET), d, dst, o);
            Lanes.store(highNibbles(q).sub((byte) OFFSET), d, dst, o + CHUNK);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            ByteVector q = chunk(w, at + QS);
            FloatVector qx = Lanes.accumulate(lowNibbles(q).sub((byte) OFFSET), x, o, Lanes.zero());
            qx = Lanes.accumulate(highNibbles(q).sub((byte) OFFSET), x, o + CHUNK, qx);
            acc = Lanes.addScaled(qx, LittleEndian.f16(w, at), acc);
        }
        return LaneSum.of(acc);
    }

    /**
     * ggml's {@code quantize_row_q4_0_ref}: d = (the value of largest magnitude) / -8, so that
     * value lands exactly on level 0; others are truncated after adding 8.5, i.e. rounded.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            float max = BlockStats.signedMax(src, i, blockSize);
            float d = max / -OFFSET;
            float id = d != 0 ? 1.0f / d : 0.0f;
            LittleEndian.putF16(dst, at, d);
            for (int j = 0; j < CHUNK; j++) {
                int lo = Math.min(15, Rounding.truncate(src[i + j] * id + (OFFSET + 0.5f)));
                int hi = Math.min(15, Rounding.truncate(src[i + j + CHUNK] * id + (OFFSET + 0.5f)));
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
        return OFFSET;
    }

    @Override
    public boolean hasBias() {
        return false;
    }

    /** q = nibble - 8, scale = d, bias 0. */
    @Override
    public void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset) {
        long at = startByte(firstElement, count, qOffset, q.length);
        for (int i = 0; i < count; i += blockSize, at += blockBytes) {
            scale[sOffset + i / blockSize] = LittleEndian.f16(src, at);
            for (int j = 0; j < blockSize / 2; j++) {
                int b = LittleEndian.u8(src, at + QS + j);
                q[qOffset + i + j] = (byte) ((b & 0xF) - OFFSET);
                q[qOffset + i + j + blockSize / 2] = (byte) ((b >> 4) - OFFSET);
            }
        }
    }
}
