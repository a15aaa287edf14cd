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
 * IQ4_XS: super-blocks of 256 weights, 136 bytes: fp16 {@code d}, a 16-bit {@code scales_h}, 4
 * bytes {@code scales_l}, 128 bytes of 4-bit indices. Sub-block ib (32 weights) has the 6-bit
 * scale (nibble ib%2 of scales_l[ib/2]) | (bits 2ib..2ib+1 of scales_h) << 4, stored +32, and
 * indices laid out as an IQ4_NL block's. Weight = (d × (scale - 32)) × {@link IQ4Codebook#VALUES}[index].
 */
final class IQ4_XSFormat extends BlockFormat {
    private static final int SCALES_H = 2;
    private static final int SCALES_L = 4;
    private static final int QS = 8;
    private static final int SUB = 32;
    private static final int SUBS = 8;
    private static final int BIAS = 32;
    /** ggml's {@code quantize_iq4_xs} tries 7 scales either side of the first guess. */
    private static final int TRIES = 7;

    IQ4_XSFormat() {
        super(GgmlType.IQ4_XS);
    }

    private static int scale(MemorySegment s, long at, int ib) {
        int low = LittleEndian.u8(s, at + SCALES_L + ib / 2) >> 4 * (ib % 2) & 0xF;
        int high = LittleEndian.u16(s, at + SCALES_H) >> 2 * ib & 3;
        return (low | high << 4) - BIAS;
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            for (int ib = 0; ib < SUBS; ib++) {
                float dl = d * scale(src, at, ib);
                for (int j = 0; j < CHUNK; j++) {
                    int q = LittleEndian.u8(src, at + QS + CHUNK * ib + j);
                    dst[o + SUB * ib + j] = dl * IQ4Codebook.level(q & 0xF);
                    dst[o + SUB * ib + CHUNK + j] = dl * IQ4Codebook.level(q >> 4);
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            for (int ib = 0; ib < SUBS; ib++) {
                float dl = d * scale(src, at, ib);
                ByteVector q = chunk(src, at + QS + CHUNK * ib);
                Lanes.store(IQ4Codebook.levels(lowNibbles(q)), dl, dst, o + SUB * ib);
                Lanes.store(IQ4Codebook.levels(highNibbles(q)), dl, dst, o + SUB * ib + CHUNK);
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(w, at);
            for (int ib = 0; ib < SUBS; ib++) {
                ByteVector q = chunk(w, at + QS + CHUNK * ib);
                FloatVector qx = Lanes.accumulate(IQ4Codebook.levels(lowNibbles(q)), x, o + SUB * ib, Lanes.zero());
                qx = Lanes.accumulate(IQ4Codebook.levels(highNibbles(q)), x, o + SUB * ib + CHUNK, qx);
                acc = Lanes.addScaled(qx, d * scale(w, at, ib), acc);
            }
        }
        return LaneSum.of(acc);
    }

    /**
     * The algorithm of ggml's {@code quantize_iq4_xs} without an importance matrix: a searched
     * scale per sub-block ({@link IQ4Codebook#searchScale}), coded in 6 bits against
     * d = -(largest scale)/32, then each weight's nearest level under its coded scale. Written
     * independently, so not checked byte for byte against ggml's output.
     */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        int[] ignored = new int[SUB];
        float[] scales = new float[SUBS];
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            float maxScale = 0;
            for (int ib = 0; ib < SUBS; ib++) {
                scales[ib] = IQ4Codebook.searchScale(src, i + SUB * ib, SUB, TRIES, ignored);
                if (Math.abs(scales[ib]) > Math.abs(maxScale)) maxScale = scales[ib];
            }
            float d = -maxScale / BIAS;
            float id = d != 0 ? 1 / d : 0;
            LittleEndian.putF16(dst, at, d);
            int scalesH = 0;
            for (int ib = 0; ib < SUBS; ib++) {
                int l = Math.clamp(Rounding.nearestInt(id * scales[ib]), -BIAS, BIAS - 1);
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0;
                for (int j = 0; j < CHUNK; j++) {
                    int lo = IQ4Codebook.nearest(idl * src[i + SUB * ib + j]);
                    int hi = IQ4Codebook.nearest(idl * src[i + SUB * ib + CHUNK + j]);
                    LittleEndian.putU8(dst, at + QS + CHUNK * ib + j, lo | hi << 4);
                }
                int stored = l + BIAS;
                long scaleByte = at + SCALES_L + ib / 2;
                int previous = ib % 2 == 0 ? 0 : LittleEndian.u8(dst, scaleByte);
                LittleEndian.putU8(dst, scaleByte, previous | (stored & 0xF) << 4 * (ib % 2));
                scalesH |= (stored >> 4) << 2 * ib;
            }
            LittleEndian.putU16(dst, at + SCALES_H, scalesH);
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return false;
    }
}
