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
 * IQ4_NL: blocks of 32 weights, 18 bytes: fp16 scale {@code d}, then 16 bytes of 4-bit indices
 * laid out as Q4_0's nibbles; weight = {@link IQ4Codebook#VALUES}[index] × d.
 */
final class IQ4_NLFormat extends BlockFormat {
    private static final int QS = 2;
    /** ggml's reference quantizer ({@code quantize_row_iq4_nl_ref}) skips the scale search. */
    private static final int TRIES = -1;

    IQ4_NLFormat() {
        super(GgmlType.IQ4_NL);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            for (int j = 0; j < CHUNK; j++) {
                int q = LittleEndian.u8(src, at + QS + j);
                dst[o + j] = d * IQ4Codebook.level(q & 0xF);
                dst[o + j + CHUNK] = d * IQ4Codebook.level(q >> 4);
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            ByteVector q = chunk(src, at + QS);
            Lanes.store(IQ4Codebook.levels(lowNibbles(q)), d, dst, o);
            Lanes.store(IQ4Codebook.levels(highNibbles(q)), d, dst, o + CHUNK);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            ByteVector q = chunk(w, at + QS);
            FloatVector qx = Lanes.accumulate(IQ4Codebook.levels(lowNibbles(q)), x, o, Lanes.zero());
            qx = Lanes.accumulate(IQ4Codebook.levels(highNibbles(q)), x, o + CHUNK, qx);
            acc = Lanes.addScaled(qx, LittleEndian.f16(w, at), acc);
        }
        return LaneSum.of(acc);
    }

    /**
     * The algorithm of ggml's {@code quantize_row_iq4_nl_ref} (least-squares scale, nearest
     * level); written independently, so not checked byte for byte against ggml's output. A block
     * of zeros gets index 0 throughout (ggml leaves whatever its buffer held; d = 0 either way).
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        int[] indices = new int[blockSize];
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            float d = IQ4Codebook.searchScale(src, i, blockSize, TRIES, indices);
            LittleEndian.putF16(dst, at, d);
            for (int j = 0; j < CHUNK; j++) {
                LittleEndian.putU8(dst, at + QS + j, indices[j] | indices[j + CHUNK] << 4);
            }
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return false;
    }
}
