package dev.specula.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The two ways K-quants pack sixteen 6-bit numbers into 12 bytes.
 *
 * <p>Q4_K and Q5_K hold 8 scales and 8 mins ({@code get_scale_min_k4} in ggml): bytes 0..3 are
 * scales 0..3 and bytes 4..7 mins 0..3 in their low 6 bits; for j = 4..7, byte 8+(j-4) holds
 * scale j's low nibble and min j's low nibble in its high half, and their top 2 bits ride in
 * the top 2 bits of bytes j-4 (scale) and j (min).
 *
 * <p>Q3_K holds 16 scales, each stored +32: bytes 0..7 hold the low nibbles of scales 0..7 (low
 * half) and 8..15 (high half); bits 2g..2g+1 of byte 8+i hold the top 2 bits of scale i+4g.
 */
final class SixBitScales {
    static final int BYTES = 12;
    static final int MAX = 63;
    /** Q3_K's scales are signed: stored value - 32. */
    static final int Q3_BIAS = 32;

    private SixBitScales() {}

    static int scale(MemorySegment s, long at, int j) {
        if (j < 4) return LittleEndian.u8(s, at + j) & 63;
        return (LittleEndian.u8(s, at + j + 4) & 0xF) | (LittleEndian.u8(s, at + j - 4) >> 6) << 4;
    }

    static int min(MemorySegment s, long at, int j) {
        if (j < 4) return LittleEndian.u8(s, at + j + 4) & 63;
        return (LittleEndian.u8(s, at + j + 4) >> 4) | (LittleEndian.u8(s, at + j) >> 6) << 4;
    }

    /**
     * All 8 sub-block scales times d and mins times dmin, computed as the definition does. The
     * vector paths unpack a block's scales first, in a plain loop, so that their own loop bodies
     * stay small enough for the JIT to inline every Vector API call in them.
     */
    static void unpack(MemorySegment s, long at, float d, float dmin, float[] scales, float[] mins) {
        for (int j = 0; j < scales.length; j++) {
            scales[j] = d * scale(s, at, j);
            mins[j] = dmin * min(s, at, j);
        }
    }

    /** All 16 Q3_K scales times d, as {@link #unpack} for Q4_K and Q5_K. */
    static void unpackQ3(MemorySegment s, long at, float d, float[] scales) {
        for (int j = 0; j < scales.length; j++) {
            scales[j] = d * q3Scale(s, at, j);
        }
    }

    static void pack(int[] scales, int[] mins, MemorySegment s, long at) {
        for (int j = 0; j < 4; j++) {
            LittleEndian.putU8(s, at + j, scales[j] | (scales[j + 4] >> 4) << 6);
            LittleEndian.putU8(s, at + j + 4, mins[j] | (mins[j + 4] >> 4) << 6);
            LittleEndian.putU8(s, at + j + 8, (scales[j + 4] & 0xF) | (mins[j + 4] & 0xF) << 4);
        }
    }

    /** Q3_K scale {@code j} (0..15), bias removed: -32..31. */
    static int q3Scale(MemorySegment s, long at, int j) {
        int low = j < 8 ? LittleEndian.u8(s, at + j) & 0xF : LittleEndian.u8(s, at + j - 8) >> 4;
        int high = LittleEndian.u8(s, at + 8 + j % 4) >> 2 * (j / 4) & 3;
        return (low | high << 4) - Q3_BIAS;
    }

    /** Packs 16 stored Q3_K scale values (0..63, bias included). */
    static void packQ3(int[] stored, MemorySegment s, long at) {
        for (int j = 0; j < 8; j++) {
            LittleEndian.putU8(s, at + j, (stored[j] & 0xF) | (stored[j + 8] & 0xF) << 4);
        }
        for (int i = 0; i < 4; i++) {
            int b = 0;
            for (int g = 0; g < 4; g++) {
                b |= (stored[i + 4 * g] >> 4 & 3) << 2 * g;
            }
            LittleEndian.putU8(s, at + 8 + i, b);
        }
    }
}
