package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

/**
 * Expected values, written in the tests straight from ggml's definitions of the block layouts
 * (ggml-common.h, dequantize_row_* in ggml-quants.c) and deliberately not sharing code with
 * production: every weight is computed on its own from its index, where the production code
 * walks blocks. Arithmetic follows ggml's order of float operations, so results are exact.
 */
final class FormatDefinitions {
    static final int[] IQ4NL = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private FormatDefinitions() {}

    /** Decodes {@code elements} weights stored from byte {@code start} of {@code bytes}. */
    static float[] decode(GgmlType type, byte[] bytes, int start, int elements) {
        float[] out = new float[elements];
        for (int i = 0; i < elements; i++) {
            int block = start + i / type.blockSize * type.blockBytes;
            out[i] = weight(type, bytes, block, i % type.blockSize);
        }
        return out;
    }

    static float weight(GgmlType type, byte[] b, int at, int i) {
        return switch (type) {
            case F32 -> Float.intBitsToFloat(u32(b, at));
            case F16 -> half(u16(b, at));
            case BF16 -> Float.intBitsToFloat(u16(b, at) << 16);
            case Q8_0 -> b[at + 2 + i] * half(u16(b, at));
            case Q4_0 -> (nibble(b, at + 2, i) - 8) * half(u16(b, at));
            case Q4_1 -> nibble(b, at + 4, i) * half(u16(b, at)) + half(u16(b, at + 2));
            case Q5_0 -> ((nibble(b, at + 6, i) | (u32(b, at + 2) >>> i & 1) << 4) - 16) * half(u16(b, at));
            case Q5_1 -> (nibble(b, at + 8, i) | (u32(b, at + 4) >>> i & 1) << 4) * half(u16(b, at)) + half(u16(b, at + 2));
            case IQ4_NL -> half(u16(b, at)) * IQ4NL[nibble(b, at + 2, i)];
            case Q2_K -> q2k(b, at, i);
            case Q3_K -> q3k(b, at, i);
            case Q4_K -> q4k(b, at, i);
            case Q5_K -> q5k(b, at, i);
            case Q6_K -> q6k(b, at, i);
            case IQ4_XS -> iq4xs(b, at, i);
            default -> throw new IllegalArgumentException(type.name());
        };
    }

    /** Weight i (0..31) of a 32-weight group: low nibbles hold 0..15, high nibbles 16..31. */
    private static int nibble(byte[] b, int qs, int i) {
        int v = u8(b, qs + i % 16);
        return i < 16 ? v & 0xF : v >> 4;
    }

    private static float q2k(byte[] b, int at, int i) {
        int n = i / 128, j = i % 128 / 32, l = i % 32;
        int sc = u8(b, at + 8 * n + 2 * j + l / 16);
        int q = u8(b, at + 16 + 32 * n + l) >> 2 * j & 3;
        float dl = half(u16(b, at + 80)) * (sc & 0xF);
        float ml = half(u16(b, at + 82)) * (sc >> 4);
        return dl * q - ml;
    }

    private static float q3k(byte[] b, int at, int i) {
        int n = i / 128, j = i % 128 / 32, l = i % 32;
        int q = u8(b, at + 32 + 32 * n + l) >> 2 * j & 3;
        boolean high = (u8(b, at + l) & 1 << (4 * n + j)) != 0;
        float dl = half(u16(b, at + 108)) * (q3kScales(b, at + 96)[8 * n + 2 * j + l / 16] - 32);
        return dl * (q - (high ? 0 : 4));
    }

    /** The 12 scale bytes read as three little-endian words and regrouped into four, one byte per scale. */
    static int[] q3kScales(byte[] b, int at) {
        int w0 = u32(b, at), w1 = u32(b, at + 4), w2 = u32(b, at + 8);
        int[] words = {
            (w0 & 0x0F0F0F0F) | (w2 & 0x03030303) << 4,
            (w1 & 0x0F0F0F0F) | (w2 >>> 2 & 0x03030303) << 4,
            (w0 >>> 4 & 0x0F0F0F0F) | (w2 >>> 4 & 0x03030303) << 4,
            (w1 >>> 4 & 0x0F0F0F0F) | (w2 >>> 6 & 0x03030303) << 4,
        };
        int[] scales = new int[16];
        for (int s = 0; s < 16; s++) scales[s] = words[s / 4] >>> 8 * (s % 4) & 0xFF;
        return scales;
    }

    /** Q4_K/Q5_K scale (which = 0) or min (which = 1) of sub-block j. */
    static int k4(byte[] b, int at, int j, int which) {
        if (j < 4) return u8(b, at + j + 4 * which) & 63;
        int low = which == 0 ? u8(b, at + j + 4) & 0xF : u8(b, at + j + 4) >> 4;
        int high = u8(b, at + j - 4 + 4 * which) >> 6;
        return low | high << 4;
    }

    private static float q4k(byte[] b, int at, int i) {
        int sub = i / 32, l = i % 32;
        int byteAt = u8(b, at + 16 + 32 * (sub / 2) + l);
        int q = sub % 2 == 0 ? byteAt & 0xF : byteAt >> 4;
        float d1 = half(u16(b, at)) * k4(b, at + 4, sub, 0);
        float m1 = half(u16(b, at + 2)) * k4(b, at + 4, sub, 1);
        return d1 * q - m1;
    }

    private static float q5k(byte[] b, int at, int i) {
        int sub = i / 32, l = i % 32;
        int byteAt = u8(b, at + 48 + 32 * (sub / 2) + l);
        int q = (sub % 2 == 0 ? byteAt & 0xF : byteAt >> 4) + ((u8(b, at + 16 + l) >> sub & 1) != 0 ? 16 : 0);
        float d1 = half(u16(b, at)) * k4(b, at + 4, sub, 0);
        float m1 = half(u16(b, at + 2)) * k4(b, at + 4, sub, 1);
        return d1 * q - m1;
    }

    private static float q6k(byte[] b, int at, int i) {
        int n = i / 128, g = i % 128 / 32, l = i % 32;
        int ql = u8(b, at + 64 * n + l + (g % 2 == 1 ? 32 : 0));
        int low = g < 2 ? ql & 0xF : ql >> 4;
        int high = u8(b, at + 128 + 32 * n + l) >> 2 * g & 3;
        int q = (low | high << 4) - 32;
        int scale = b[at + 192 + 8 * n + l / 16 + 2 * g];
        return half(u16(b, at + 208)) * scale * q;
    }

    private static float iq4xs(byte[] b, int at, int i) {
        int ib = i / 32, l = i % 32;
        int ls = (u8(b, at + 4 + ib / 2) >> 4 * (ib % 2) & 0xF) | (u16(b, at + 2) >> 2 * ib & 3) << 4;
        float dl = half(u16(b, at)) * (ls - 32);
        int v = u8(b, at + 8 + 16 * ib + l % 16);
        return dl * IQ4NL[l < 16 ? v & 0xF : v >> 4];
    }

    /** IEEE half precision, decoded by hand: sign, 5-bit exponent (bias 15), 10-bit fraction. */
    static float half(int bits) {
        int exp = bits >> 10 & 0x1F;
        int frac = bits & 0x3FF;
        float magnitude;
        if (exp == 0) {
            magnitude = Math.scalb((float) frac, -24);
        } else if (exp == 31) {
            magnitude = frac == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
        } else {
            magnitude = Math.scalb((float) (frac | 0x400), exp - 25);
        }
        return (bits & 0x8000) != 0 ? -magnitude : magnitude;
    }

    static int u8(byte[] b, int at) {
        return b[at] & 0xFF;
    }

    static int u16(byte[] b, int at) {
        return u8(b, at) | u8(b, at + 1) << 8;
    }

    static int u32(byte[] b, int at) {
        return u16(b, at) | u16(b, at + 2) << 16;
    }
}
