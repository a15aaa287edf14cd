package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.CHUNK;
import static dev.specula.tensor.Lanes.chunk;

/**
 * Q8_0: blocks of 32 weights, 34 bytes: fp16 scale {@code d}, then 32 signed bytes {@code q};
 * weight = q × d.
 */
final class Q8_0Format extends BlockFormat {
    private static final int QS = 2;
    private static final int LEVELS = 127;

    Q8_0Format() {
        super(GgmlType.Q8_0);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            for (int j = 0; j < blockSize; j++) {
                dst[o + j] = LittleEndian.i8(src, at + QS + j) * d;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int o = dstOffset; o < dstOffset + count; o += blockSize, at += blockBytes) {
            float d = LittleEndian.f16(src, at);
            Lanes.store(chunk(src, at + QS), d, dst, o);
            Lanes.store(chunk(src, at + QS + CHUNK), d, dst, o + CHUNK);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        for (int o = xOffset; o < xOffset + count; o += blockSize, at += blockBytes) {
            FloatVector qx = Lanes.accumulate(chunk(w, at + QS), x, o, Lanes.zero());
            qx = Lanes.accumulate(chunk(w, at + QS + CHUNK), x, o + CHUNK, qx);
            acc = Lanes.addScaled(qx, LittleEndian.f16(w, at), acc);
        }
        return LaneSum.of(acc);
    }

    /** ggml's {@code quantize_row_q8_0_ref}: d = max|x| / 127, q = round(x / d), ties away from zero. */
    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = srcOffset; i < srcOffset + count; i += blockSize, at += blockBytes) {
            float amax = 0;
            for (int j = 0; j < blockSize; j++) {
                amax = Math.max(amax, Math.abs(src[i + j]));
            }
            float d = amax / LEVELS;
            float id = d != 0 ? 1.0f / d : 0.0f;
            LittleEndian.putF16(dst, at, d);
            for (int j = 0; j < blockSize; j++) {
                LittleEndian.putU8(dst, at + QS + j, Rounding.halfAwayFromZero(src[i + j] * id));
            }
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return true;
    }
}
