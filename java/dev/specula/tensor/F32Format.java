package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.FLOATS;
import static dev.specula.tensor.Lanes.LANES;

/** F32: little-endian IEEE floats, one element per "block". */
final class F32Format extends BlockFormat {
    private static final int BYTES = Float.BYTES;

    F32Format() {
        super(GgmlType.F32);
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = LittleEndian.f32(src, at + (long) BYTES * i);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        MemorySegment.copy(src, LittleEndian.FLOAT, at, dst, dstOffset, count);
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        int i = 0;
        for (int end = FLOATS.loopBound(count); i < end; i += LANES) {
            FloatVector wv = FloatVector.fromMemorySegment(FLOATS, w, at + (long) BYTES * i, LittleEndian.ORDER);
            acc = wv.fma(FloatVector.fromArray(FLOATS, x, xOffset + i), acc);
        }
        float sum = LaneSum.of(acc);
        for (; i < count; i++) {
            sum += LittleEndian.f32(w, at + (long) BYTES * i) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public float dotScalar(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += (double) LittleEndian.f32(w, at + (long) BYTES * i) * x[xOffset + i];
        }
        return (float) sum;
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        MemorySegment.copy(src, srcOffset, dst, LittleEndian.FLOAT, at, count);
    }

    @Override
    public boolean quantizesLikeGgml() {
        return true;
    }
}
