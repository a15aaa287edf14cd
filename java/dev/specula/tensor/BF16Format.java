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

/** BF16: little-endian bfloat16 (the top 16 bits of a float), one element per "block". */
final class BF16Format extends BlockFormat {
    private static final int BYTES = Short.BYTES;
    private static final VectorSpecies<Short> HALVES = VectorSpecies.of(short.class, VectorShape.forBitSize(LANES * Short.SIZE));
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, FLOATS.vectorShape());

    BF16Format() {
        super(GgmlType.BF16);
    }

    /** Widening to int sign-extends; the shift by 16 pushes those copies of the sign out again. */
    static FloatVector toFloats(MemorySegment s, long at) {
        ShortVector halves = ShortVector.fromMemorySegment(HALVES, s, at, LittleEndian.ORDER);
        IntVector h = (IntVector) halves.convertShape(VectorOperators.S2I, INTS, 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    @Override
    public void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count) {
        long at = startByte(firstElement, count, dstOffset, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = LittleEndian.bf16(src, at + (long) BYTES * i);
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
            dst[dstOffset + i] = LittleEndian.bf16(src, at + (long) BYTES * i);
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
            sum += LittleEndian.bf16(w, at + (long) BYTES * i) * x[xOffset + i];
        }
        return sum;
    }

    @Override
    public float dotScalar(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        long at = startByte(firstElement, count, xOffset, x.length);
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += (double) LittleEndian.bf16(w, at + (long) BYTES * i) * x[xOffset + i];
        }
        return (float) sum;
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count) {
        long at = startByte(firstElement, count, srcOffset, src.length);
        for (int i = 0; i < count; i++) {
            LittleEndian.putBf16(dst, at + (long) BYTES * i, src[srcOffset + i]);
        }
    }

    @Override
    public boolean quantizesLikeGgml() {
        return true;
    }
}
