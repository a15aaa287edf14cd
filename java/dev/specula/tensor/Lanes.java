package dev.specula.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * The vector shapes every fast path uses, chosen once per JVM, and the few moves they share.
 *
 * <p>Quantised kernels work on chunks of 16 weights held in one 128-bit byte vector, a width
 * every SIMD unit Specula targets loads natively (SSE/AVX, NEON). A chunk expands into
 * {@link #PARTS} float vectors, so 4-, 8- and 16-lane float vectors all work and no kernel
 * assumes a lane count. Species are static finals because the JIT only compiles Vector API
 * calls to SIMD instructions when the species is a constant.
 */
final class Lanes {
    /**
     * System property narrowing the float vector width, in bits (128, 256 or 512): for example
     * {@code -Dspecula.vector.bits=128} runs the 4-lane code path of NEON machines on AVX-512.
     * Default: the platform's preferred width.
     */
    static final String WIDTH_PROPERTY = "specula.vector.bits";
    /** Weights per chunk: the lanes of one 128-bit byte vector. */
    static final int CHUNK = 16;
    /** Narrowest float vector used: 4 lanes, as on NEON. */
    static final int MIN_BITS = 128;
    /** Widest float vector used: 16 lanes, so that one chunk fills whole float vectors. */
    static final int MAX_BITS = 512;

    static final VectorSpecies<Float> FLOATS = floatSpecies();
    static final int LANES = FLOATS.length();
    /** Float vectors per chunk. */
    static final int PARTS = CHUNK / LANES;
    static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_128;

    private Lanes() {}

    private static VectorSpecies<Float> floatSpecies() {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        int wanted = Integer.getInteger(WIDTH_PROPERTY, preferred.vectorBitSize());
        int bits = Integer.highestOneBit(Math.clamp(wanted, MIN_BITS, MAX_BITS));
        return bits == preferred.vectorBitSize() ? preferred
                : VectorSpecies.of(float.class, VectorShape.forBitSize(bits));
    }

    /** The 16 bytes at {@code at}. */
    static ByteVector chunk(MemorySegment s, long at) {
        return ByteVector.fromMemorySegment(BYTES, s, at, LittleEndian.ORDER);
    }

    static ByteVector lowNibbles(ByteVector b) {
        return b.and((byte) 0x0F);
    }

    static ByteVector highNibbles(ByteVector b) {
        return moveField(b, 4, 0, 4);
    }

    /** Per byte: the {@code width}-bit field starting at bit {@code from}, as a number. */
    static ByteVector field(ByteVector b, int from, int width) {
        return moveField(b, from, 0, width);
    }

    /**
     * Per byte: the {@code width}-bit field starting at bit {@code from}, moved to start at bit
     * {@code to}, every other bit cleared. x86 has no byte shifts, so this shifts 16-bit lanes:
     * bits that cross into the neighbouring byte all fall outside the field and are masked off.
     */
    static ByteVector moveField(ByteVector b, int from, int to, int width) {
        ShortVector s = b.reinterpretAsShorts();
        if (from > to) {
            s = s.lanewise(VectorOperators.LSHR, from - to);
        } else if (from < to) {
            s = s.lanewise(VectorOperators.LSHL, to - from);
        }
        return s.reinterpretAsBytes().and((byte) (((1 << width) - 1) << to));
    }

    /** Float lanes {@code [part * LANES, (part + 1) * LANES)} of a chunk of signed bytes. */
    static FloatVector part(ByteVector chunk, int part) {
        return (FloatVector) chunk.convertShape(VectorOperators.B2F, FLOATS, part);
    }

    /** {@code acc + chunk * x}, lane by lane: a partial dot product, to be scaled by the chunk's scale. */
    static FloatVector accumulate(ByteVector chunk, float[] x, int xOffset, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            acc = part(chunk, p).fma(FloatVector.fromArray(FLOATS, x, xOffset + p * LANES), acc);
        }
        return acc;
    }

    /** {@code acc + (chunk * scale + offset) * x}: weights dequantised in registers, then multiplied in. */
    static FloatVector accumulate(ByteVector chunk, float scale, float offset, float[] x, int xOffset, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector w = part(chunk, p).fma(scale, offset);
            acc = w.fma(FloatVector.fromArray(FLOATS, x, xOffset + p * LANES), acc);
        }
        return acc;
    }

    /** {@code dst = chunk * scale}, rounded exactly as the scalar definitions round. */
    static void store(ByteVector chunk, float scale, float[] dst, int dstOffset) {
        for (int p = 0; p < PARTS; p++) {
            part(chunk, p).mul(scale).intoArray(dst, dstOffset + p * LANES);
        }
    }

    /**
     * {@code dst = chunk * scale + offset}: a product then a sum, two roundings, as the scalar
     * definitions (never a fused multiply-add, which would round once and differ in the last bit).
     */
    static void store(ByteVector chunk, float scale, float offset, float[] dst, int dstOffset) {
        for (int p = 0; p < PARTS; p++) {
            part(chunk, p).mul(scale).add(offset).intoArray(dst, dstOffset + p * LANES);
        }
    }

    /** {@code acc + partial * scale}: a chunk's partial dot product, scaled once per chunk instead of per weight. */
    static FloatVector addScaled(FloatVector partial, float scale, FloatVector acc) {
        return partial.fma(FloatVector.broadcast(FLOATS, scale), acc);
    }

    static FloatVector zero() {
        return FloatVector.zero(FLOATS);
    }
}
