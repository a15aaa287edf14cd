package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

import java.util.Random;

/**
 * Tensor bytes made of random bits, except where random bits would not be a fair test: fp16
 * scale fields never hold infinity or NaN (ggml never writes them and every product would be
 * NaN), and plain float tensors hold finite values of moderate size so dot products cannot
 * overflow.
 */
final class RandomBlocks {
    private static final int HALF_EXPONENT = 0x7C00;

    private RandomBlocks() {}

    /** Byte offsets, within one block, of the fp16 scale fields of each quantised format. */
    static int[] halfFields(GgmlType type) {
        return switch (type) {
            case Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            default -> new int[0];
        };
    }

    static byte[] of(GgmlType type, int elements, Random rng) {
        byte[] b = new byte[Math.toIntExact(type.bytesFor(elements))];
        rng.nextBytes(b);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < elements; i++) putInt(b, 4 * i, Float.floatToRawIntBits((float) rng.nextGaussian()));
            }
            case F16 -> {
                for (int i = 0; i < elements; i++) putShort(b, 2 * i, finiteHalf(rng));
            }
            case BF16 -> {
                for (int i = 0; i < elements; i++) putShort(b, 2 * i, HalfFloats.floatToBf16((float) (rng.nextGaussian() * 100)));
            }
            default -> {
                for (int block = 0; block < elements / type.blockSize; block++) {
                    for (int field : halfFields(type)) putShort(b, block * type.blockBytes + field, finiteHalf(rng));
                }
            }
        }
        return b;
    }

    /** Any half-precision bit pattern but infinities and NaNs: subnormals, zeros and both signs included. */
    static int finiteHalf(Random rng) {
        int bits = rng.nextInt(0x10000);
        return (bits & HALF_EXPONENT) == HALF_EXPONENT ? bits & ~0x4000 : bits;
    }

    static float[] gaussians(int n, Random rng) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rng.nextGaussian();
        return x;
    }

    private static void putShort(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >> 8);
    }

    private static void putInt(byte[] b, int at, int v) {
        putShort(b, at, v);
        putShort(b, at + 2, v >> 16);
    }
}
