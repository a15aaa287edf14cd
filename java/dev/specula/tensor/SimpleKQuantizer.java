package dev.specula.tensor;

/**
 * The simplified quantizers of the K-quants (ggml's reference ones search scales iteratively;
 * these take one pass). A super-block is cut into sub-blocks; each gets a scale (and, for the
 * formats with mins, a min) coded as a small integer times an fp16 super-block step
 * ({@link ScaleCodes}); each weight then takes the nearest level under its coded scale, so the
 * encoding is always valid and the error stays within about half a step.
 */
final class SimpleKQuantizer {
    private SimpleKQuantizer() {}

    /** A super-block's coded scales: sub-block j's scale is {@code d * scales[j]}, its min {@code dmin * mins[j]}. */
    record Fit(float d, float dmin, int[] scales, int[] mins) {}

    /**
     * For formats whose weight is scale × level - min, levels 0..top: each sub-block spans
     * [min(0, lowest), highest] (mins are stored as non-negative amounts to subtract).
     */
    static Fit withMins(float[] x, int offset, int subs, int subSize, int top, int maxCode) {
        float[] low = new float[subs];
        float[] high = new float[subs];
        float widest = 0;
        float deepest = 0;
        for (int j = 0; j < subs; j++) {
            low[j] = Math.min(0, BlockStats.min(x, offset + subSize * j, subSize));
            high[j] = Math.max(low[j], BlockStats.max(x, offset + subSize * j, subSize));
            widest = Math.max(widest, (high[j] - low[j]) / top);
            deepest = Math.max(deepest, -low[j]);
        }
        float d = ScaleCodes.step(widest, maxCode);
        float dmin = ScaleCodes.step(deepest, maxCode);
        int[] scales = new int[subs];
        int[] mins = new int[subs];
        for (int j = 0; j < subs; j++) {
            mins[j] = ScaleCodes.nearest(-low[j], dmin, maxCode);
            // Sized from the coded min, so the sub-block's top still fits after the min rounded.
            scales[j] = ScaleCodes.atLeast((high[j] + dmin * mins[j]) / top, d, maxCode);
        }
        return new Fit(d, dmin, scales, mins);
    }

    /** Level of each weight (0..top) under a {@link #withMins} fit. */
    static int[] levelsWithMins(float[] x, int offset, int subs, int subSize, int top, Fit fit) {
        int[] levels = new int[subs * subSize];
        for (int j = 0; j < subs; j++) {
            float scale = fit.d * fit.scales[j];
            float min = fit.dmin * fit.mins[j];
            for (int l = 0; l < subSize; l++) {
                levels[subSize * j + l] = ScaleCodes.level(x[offset + subSize * j + l] + min, scale, 0, top);
            }
        }
        return levels;
    }

    /**
     * For formats whose weight is scale × level, levels -(top+1)..top: each sub-block's scale is
     * its largest magnitude / (top + 1/2), which keeps every weight within half a step of a level.
     */
    static Fit symmetric(float[] x, int offset, int subs, int subSize, int top, int maxCode) {
        float[] wanted = new float[subs];
        float largest = 0;
        for (int j = 0; j < subs; j++) {
            float amax = Math.abs(BlockStats.signedMax(x, offset + subSize * j, subSize));
            wanted[j] = amax / (top + 0.5f);
            largest = Math.max(largest, wanted[j]);
        }
        float d = ScaleCodes.step(largest, maxCode);
        int[] scales = new int[subs];
        for (int j = 0; j < subs; j++) {
            scales[j] = ScaleCodes.atLeast(wanted[j], d, maxCode);
        }
        return new Fit(d, 0, scales, new int[subs]);
    }

    /** Level of each weight (-(top+1)..top) under a {@link #symmetric} fit. */
    static int[] levelsSymmetric(float[] x, int offset, int subs, int subSize, int top, Fit fit) {
        int[] levels = new int[subs * subSize];
        for (int j = 0; j < subs; j++) {
            float scale = fit.d * fit.scales[j];
            for (int l = 0; l < subSize; l++) {
                levels[subSize * j + l] = ScaleCodes.level(x[offset + subSize * j + l], scale, -(top + 1), top);
            }
        }
        return levels;
    }
}
