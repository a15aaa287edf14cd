package dev.specula.tools;

import dev.specula.gguf.GgmlType;
import java.util.SplittableRandom;

/**
 * Q4_0 and Q8_0 blocks written directly from random bits, for models whose values do not matter
 * (speed measurements): uniform random integers and a random finite F16 scale per block, chosen
 * so that the weights' standard deviation is about 1/sqrt(cols), as a trained layer's is, and
 * activations stay finite through many layers. Nothing is quantised, so it runs at memory speed.
 */
final class RandomBlocks {
    /** Standard deviation of a uniform integer on 0..15 (Q4_0, less 8) and on -128..127 (Q8_0). */
    private static final double SD_NIBBLE = Math.sqrt((16.0 * 16 - 1) / 12), SD_BYTE = Math.sqrt((256.0 * 256 - 1) / 12);

    private RandomBlocks() {}

    /** {@code rows} rows of {@code cols} weights of {@code type} (Q4_0 or Q8_0). */
    static byte[] fill(GgmlType type, int cols, int rows, SplittableRandom random) {
        if (type != GgmlType.Q4_0 && type != GgmlType.Q8_0) throw new IllegalArgumentException("random blocks are Q4_0 or Q8_0, not " + type);
        long elements = (long) cols * rows;
        byte[] out = new byte[Math.toIntExact(type.bytesFor(elements))];
        double scale = 1 / Math.sqrt(cols) / (type == GgmlType.Q4_0 ? SD_NIBBLE : SD_BYTE);
        int blockBytes = type.blockBytes;
        for (int o = 0; o < out.length; o += blockBytes) {
            short d = Float.floatToFloat16((float) (scale * (0.5 + random.nextDouble())));
            out[o] = (byte) d;
            out[o + 1] = (byte) (d >>> 8);
            for (int i = o + 2; i < o + blockBytes; i += 8) {
                long bits = random.nextLong();
                for (int k = 0; k < 8; k++) out[i + k] = (byte) (bits >>> (8 * k));
            }
        }
        return out;
    }
}
