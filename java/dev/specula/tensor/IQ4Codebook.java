package dev.specula.tensor;

import jdk.incubator.vector.ByteVector;

import java.util.Arrays;

import static dev.specula.tensor.Lanes.BYTES;

/**
 * The 16 non-uniformly spaced levels of IQ4_NL and IQ4_XS (ggml's {@code kvalues_iq4nl}), and
 * the scale search both quantizers share.
 */
final class IQ4Codebook {
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    private static final ByteVector TABLE = ByteVector.fromArray(BYTES, VALUES, 0);
    /** Below this largest magnitude a group is stored as zeros (ggml's {@code GROUP_MAX_EPS}). */
    static final float ZERO_GROUP = 1e-15f;

    private IQ4Codebook() {}

    /** The level each 4-bit index in the lanes names: one table shuffle. */
    static ByteVector levels(ByteVector indices) {
        return indices.selectFrom(TABLE);
    }

    static int level(int index) {
        return VALUES[index];
    }

    static int nearest(float v) {
        return Rounding.nearestIndex(VALUES, v);
    }

    /**
     * ggml's {@code quantize_row_iq4_nl_impl} for one group of 32 without importance weights
     * (so each value is weighted by its square): the scale that puts the largest-magnitude value
     * on the level -127, refined by least squares; then, when {@code tries > 0}, each of the
     * scales putting it on -127 + t for |t| <= tries, keeping whichever fits best.
     *
     * @param indices receives the level index of each value under the first scale
     * @return the group's scale (0 for a group of zeros, whose indices are left 0)
     */
    static float searchScale(float[] x, int offset, int count, int tries, int[] indices) {
        Arrays.fill(indices, 0, count, 0);
        float max = BlockStats.signedMax(x, offset, count);
        if (Math.abs(max) < ZERO_GROUP) return 0;
        float first = VALUES[0];
        float d = tries > 0 ? -max / first : max / first;
        float id = 1 / d;
        float sumqx = 0;
        float sumq2 = 0;
        for (int j = 0; j < count; j++) {
            float v = x[offset + j];
            int l = nearest(id * v);
            indices[j] = l;
            float q = VALUES[l];
            float w = v * v;
            sumqx += w * q * v;
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int t = -tries; t <= tries; t++) {
            id = (t + VALUES[0]) / max;
            sumqx = 0;
            sumq2 = 0;
            for (int j = 0; j < count; j++) {
                float v = x[offset + j];
                float q = VALUES[nearest(id * v)];
                float w = v * v;
                sumqx += w * q * v;
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        return d;
    }
}
