package dev.specula.tensor;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.VectorMask;

import java.lang.foreign.MemorySegment;

import static dev.specula.tensor.Lanes.BYTES;

/**
 * The fifth bits of Q5_0 and Q5_1: a 32-bit word whose bit j is the top bit of weight j. Bits
 * 0..15 belong with the low nibbles, bits 16..31 with the high ones.
 */
final class FifthBits {
    static final int VALUE = 0x10;

    private FifthBits() {}

    static int word(MemorySegment s, long at) {
        return LittleEndian.i32(s, at);
    }

    /** 0x10 where weight {@code j} has its fifth bit set, for bit j of the scalar path. */
    static int of(int word, int j) {
        return (word >>> j) << 4 & VALUE;
    }

    /** 16 lanes, lane j = 0x10 when bit j of {@code bits16} is set: the bits are a lane mask as they stand. */
    static ByteVector lanes(int bits16) {
        return ByteVector.zero(BYTES).blend((byte) VALUE, VectorMask.fromLong(BYTES, bits16 & 0xFFFF));
    }
}
