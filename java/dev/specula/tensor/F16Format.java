package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.FLOATS;
import static dev.specula.tensor.Lanes.LANES;

/** F16: little-endian IEEE half-precision floats, one element per "block". */
final class F16Format extends BlockFormat {
    private static final int BYTES = Short.BYTES;
    private static final VectorSpecies<Short> HALVES = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * Short.SIZE));
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, FLOATS.vectorShape());
    /** 2^(127 - 15): moves a half's exponent bias to a float's, and scales half subnormals into float normals. */
    private static final float REBIAS = 0x1p112f;
    private static final int HALF_INFINITY = 0x7C00;
    /** Converting a NaN makes it quiet, in the JDK's conversion as in the hardware's. */
    private static final int FLOAT_QUIET_BIT = 0x0040_0000;

    F16Format() {
        super(GgmlType.F16);
    }

    /**
     * Half to float in vector lanes (the Vector API has no such conversion): place exponent and
     * mantissa in a float's bits 13 places up and multiply by 2^112, which is exact for normals
     * and subnormals alike; infinities and NaNs take the float's all-ones exponent instead, and
     * NaNs come out quiet, bit for bit as {@link Float#float16ToFloat}.
     */
    static FloatVector toFloats(MemorySegment s, long at) {
        ShortVector halves = ShortVector.fromMemorySegment(HALVES, s, at, LittleEndian.ORDER);
        IntVector h = (IntVector) halves.convertShape(VectorOperators.S2I, INTS, 0);
        IntVector magnitude = h.and(0x7FFF);
        IntVector shifted = magnitude.lanewise(VectorOperators.LSHL, 13);
        IntVector finite = shifted.reinterpretAsFloats().mul(REBIAS).reinterpretAsInts();
        IntVector special = shifted.or(0x7F80_0000)
                .lanewise(VectorOperators.OR, FLOAT_QUIET_BIT, magnitude.compare(VectorOperators.GT, HALF_INFINITY));
        IntVector bits = finite.blend(special, magnitude.compare(VectorOperators.GE, HALF_INFINITY));
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = LittleEndian.f16(src, at + (long) BYTES * i);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        int i = 0;
        for (int end = FLOATS.loopBound(count); i < end; i += LANES) {
            toFloats(src, at + (long) BYTES * i).intoArray(dst, dstOffset + i);
        }
        for (; i < count; i++) {
            dst[dstOffset + i] = LittleEndian.f16(src, at + (long) BYTES * i);
        }
    }

    @Override
    public float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        FloatVector acc = Lanes.zero();
        int i = 0;
        for (int end = FLOATS.loopBound(count); i < end; i += LANES) {
            acc = toFloats(w, at + (long) BYTES * i).fma(FloatVector.fromArray(FLOATS, x, xOffset + i), acc);
        }
        float sum = LaneSum.of(acc);
        for (; i < count; i++) {
            sum += LittleEndian.f16(w, at + (long) BYTES * i) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public float dotScalar(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += (double) LittleEndian.f16(w, at + (long) BYTES * i) * x[xOffset + i];
        }
        return (float) sum;
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = 0; i < count; i++) {
            LittleEndian.putF16(dst, at + (long) BYTES * i, src[srcOffset + i]);
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return true;
    }
}
