package dev.specula.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
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
    /** Float vectors per chunk: 1, 2 or 4. */
    static final int PARTS = CHUNK / LANES;
    static final VectorSpecies<Byte> BYTES = ByteVector.SPECIES_128;
    /** A chunk seen as 16-bit lanes, for shifts. */
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_128;

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

    /** Bits 4..7 of each byte. x86 has no byte shifts: shift 16-bit lanes, then mask off what crossed over. */
    static ByteVector highNibbles(ByteVector b) {
        return b.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().and((byte) 0x0F);
    }

    /** Per byte: the {@code width}-bit field starting at bit {@code from}, as a number. */
    static ByteVector field(ByteVector b, int from, int width) {
        return moveField(b, from, 0, width);
    }

    /**
     * Per byte: the {@code width}-bit field starting at bit {@code from}, moved to start at bit
     * {@code to}, every other bit cleared. x86 has no byte shifts, so this shifts 16-bit lanes,
     * right by {@code from} then left by {@code to}: the bits that cross between the two bytes
     * of a lane all land outside the field and are masked off.
     *
     * <p>The counts are given as vectors: kernels pass loop variables, and the JIT compiles a
     * shift by a scalar count to SIMD code only when the count is a constant (otherwise every
     * vector in the loop ends up on the heap), while a shift by a vector of counts is always a
     * SIMD instruction.
     */
    static ByteVector moveField(ByteVector b, int from, int to, int width) {
        return b.reinterpretAsShorts()
                .lanewise(VectorOperators.LSHR, ShortVector.broadcast(SHORTS, (short) from))
                .lanewise(VectorOperators.LSHL, ShortVector.broadcast(SHORTS, (short) to))
                .reinterpretAsBytes()
                .and((byte) (((1 << width) - 1) << to));
    }

    /** Per byte: {@code value} where bit {@code bit} is set, 0 elsewhere (a test, so no shift by a variable count). */
    static ByteVector ifBitSet(ByteVector b, int bit, int value) {
        VectorMask<Byte> set = b.and((byte) (1 << bit)).compare(VectorOperators.NE, 0);
        return ByteVector.zero(BYTES).blend((byte) value, set);
    }

    /*
     * Part p of a chunk is moved to the front with a constant shuffle before converting, rather
     * than asking convertShape for part p: that goes through slice(), whose shuffle the JIT
     * builds at run time (on the heap) when the float vectors are narrower than 16 lanes.
     */
    private static final VectorShuffle<Byte> PART_1_TO_FRONT = VectorShuffle.fromOp(BYTES, i -> (i + LANES) % CHUNK);
    private static final VectorShuffle<Byte> PART_2_TO_FRONT = VectorShuffle.fromOp(BYTES, i -> (i + 2 * LANES) % CHUNK);
    private static final VectorShuffle<Byte> PART_3_TO_FRONT = VectorShuffle.fromOp(BYTES, i -> (i + 3 * LANES) % CHUNK);

    /** Float lanes {@code [part * LANES, (part + 1) * LANES)} of a chunk of signed bytes; {@code part} must be a literal. */
    static FloatVector part(ByteVector chunk, int part) {
        ByteVector front = switch (part) {
            case 0 -> chunk;
            case 1 -> chunk.rearrange(PART_1_TO_FRONT);
            case 2 -> chunk.rearrange(PART_2_TO_FRONT);
            default -> chunk.rearrange(PART_3_TO_FRONT);
        };
        return (FloatVector) front.convertShape(VectorOperators.B2F, FLOATS, 0);
    }

    /*
     * The helpers below handle a chunk's PARTS float vectors written out one by one, not in a
     * loop: convertShape compiles to SIMD code only when the part number is a constant, and
     * PARTS (1, 2 or 4) is a static final, so the ifs vanish when the JIT compiles them.
     */

    /** {@code acc + chunk * x}, lane by lane: a partial dot product, to be scaled by the chunk's scale. */
    static FloatVector accumulate(ByteVector chunk, float[] x, int xOffset, FloatVector acc) {
        acc = part(chunk, 0).fma(FloatVector.fromArray(FLOATS, x, xOffset), acc);
        if (PARTS > 1) {
            acc = part(chunk, 1).fma(FloatVector.fromArray(FLOATS, x, xOffset + LANES), acc);
        }
        if (PARTS > 2) {
            acc = part(chunk, 2).fma(FloatVector.fromArray(FLOATS, x, xOffset + 2 * LANES), acc);
            acc = part(chunk, 3).fma(FloatVector.fromArray(FLOATS, x, xOffset + 3 * LANES), acc);
        }
        return acc;
    }

    /** {@code acc + (chunk * scale + offset) * x}: weights dequantised in registers, then multiplied in. */
    static FloatVector accumulate(ByteVector chunk, float scale, float offset, float[] x, int xOffset, FloatVector acc) {
        acc = part(chunk, 0).fma(scale, offset).fma(FloatVector.fromArray(FLOATS, x, xOffset), acc);
        if (PARTS > 1) {
            acc = part(chunk, 1).fma(scale, offset).fma(FloatVector.fromArray(FLOATS, x, xOffset + LANES), acc);
        }
        if (PARTS > 2) {
            acc = part(chunk, 2).fma(scale, offset).fma(FloatVector.fromArray(FLOATS, x, xOffset + 2 * LANES), acc);
            acc = part(chunk, 3).fma(scale, offset).fma(FloatVector.fromArray(FLOATS, x, xOffset + 3 * LANES), acc);
        }
        return acc;
    }

    /** {@code dst = chunk * scale}, rounded exactly as the scalar definitions round. */
    static void store(ByteVector chunk, float scale, float[] dst, int dstOffset) {
        part(chunk, 0).mul(scale).intoArray(dst, dstOffset);
        if (PARTS > 1) {
            part(chunk, 1).mul(scale).intoArray(dst, dstOffset + LANES);
        }
        if (PARTS > 2) {
            part(chunk, 2).mul(scale).intoArray(dst, dstOffset + 2 * LANES);
            part(chunk, 3).mul(scale).intoArray(dst, dstOffset + 3 * LANES);
        }
    }

    /**
     * {@code dst = chunk * scale + offset}: a product then a sum, two roundings, as the scalar
     * definitions (never a fused multiply-add, which would round once and differ in the last bit).
     */
    static void store(ByteVector chunk, float scale, float offset, float[] dst, int dstOffset) {
        part(chunk, 0).mul(scale).add(offset).intoArray(dst, dstOffset);
        if (PARTS > 1) {
            part(chunk, 1).mul(scale).add(offset).intoArray(dst, dstOffset + LANES);
        }
        if (PARTS > 2) {
            part(chunk, 2).mul(scale).add(offset).intoArray(dst, dstOffset + 2 * LANES);
            part(chunk, 3).mul(scale).add(offset).intoArray(dst, dstOffset + 3 * LANES);
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
