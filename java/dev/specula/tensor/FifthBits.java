package dev.specula.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.BYTES;

/**
 * The fifth bits of Q5_0 and Q5_1: a 32-bit word whose bit j is the top bit of weight j. Bits
 * 0..15 belong with the low nibbles, bits 16..31 with the high ones.
 */
final class FifthBits {
    static final int VALUE = 0x10;
    private static final VectorMask<Byte> UPPER_EIGHT_LANES = VectorMask.fromLong(BYTES, 0xFF00L);
    private static final ByteVector BIT_OF_LANE = ByteVector.fromArray(BYTES,
            new byte[] {1, 2, 4, 8, 16, 32, 64, (byte) 128, 1, 2, 4, 8, 16, 32, 64, (byte) 128}, 0);

    private FifthBits() {}

    static int word(MemorySegment s, long at) {
        return LittleEndian.i32(s, at);
    }

    /** 0x10 where weight {@code j} has its fifth bit set, for bit j of the scalar path. */
    static int of(int word, int j) {
        return (word >>> j) << 4 & VALUE;
    }

    /**
     * 16 lanes, lane j = 0x10 when bit j of {@code bits16} is set: each half of the 16 bits is
     * broadcast over 8 lanes and each lane tests its own bit.
     */
    static ByteVector lanes(int bits16) {
        ByteVector spread = ByteVector.broadcast(BYTES, (byte) bits16).blend((byte) (bits16 >>> 8), UPPER_EIGHT_LANES);
        VectorMask<Byte> set = spread.and(BIT_OF_LANE).compare(VectorOperators.NE, 0);
        return ByteVector.zero(BYTES).blend((byte) VALUE, set);
    }
}
