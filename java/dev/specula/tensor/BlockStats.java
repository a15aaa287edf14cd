package dev.specula.tensor;

/** Block statistics ggml's quantizers start from. */
final class BlockStats {
    private BlockStats() {}

    /**
     * The value of largest magnitude, sign kept; the first one wins a tie, and 0 for a block of
     * zeros, as ggml's {@code if (amax < fabsf(v)) { amax = fabsf(v); max = v; }}.
     */
    static float signedMax(float[] x, int offset, int count) {
        float amax = 0;
        float max = 0;
        for (int j = offset; j < offset + count; j++) {
            float a = Math.abs(x[j]);
            if (amax < a) {
                amax = a;
                max = x[j];
            }
        }
        return max;
    }

    static float min(float[] x, int offset, int count) {
        float min = Float.MAX_VALUE;
        for (int j = offset; j < offset + count; j++) {
            if (x[j] < min) min = x[j];
        }
        return min;
    }

    static float max(float[] x, int offset, int count) {
        float max = -Float.MAX_VALUE;
        for (int j = offset; j < offset + count; j++) {
            if (x[j] > max) max = x[j];
        }
        return max;
    }
}
