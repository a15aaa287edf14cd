package dev.specula.tensor;

/**
 * The two-level scales of the simplified K-quant quantizers: each super-block stores an fp16
 * step {@code d}, each sub-block a small integer code, and the sub-block's scale is d × code.
 * Codes round up, so a sub-block's scale never shrinks below what its values need; steps round
 * up in fp16, so no code has to exceed its maximum.
 */
final class ScaleCodes {
    private ScaleCodes() {}

    /** The smallest fp16 value d with d × maxCode >= largest (0 when largest is 0). */
    static float step(float largest, int maxCode) {
        float d = largest / maxCode;
        short h = HalfFloats.floatToF16(d);
        float rounded = HalfFloats.f16ToFloat(h);
        return rounded < d ? HalfFloats.f16ToFloat((short) (h + 1)) : rounded;
    }

    /** The smallest code in [0, maxCode] with code × step >= value. */
    static int atLeast(float value, float step, int maxCode) {
        if (step == 0) return 0;
        return (int) Math.min(maxCode, Math.max(0, Math.ceil(value / step)));
    }

    /** The code in [0, maxCode] with code × step nearest value. */
    static int nearest(float value, float step, int maxCode) {
        if (step == 0) return 0;
        return Math.min(maxCode, Math.max(0, Rounding.nearestInt(value / step)));
    }

    /** The level in [lowest, highest] nearest value / scale; for a zero scale, the level nearest 0. */
    static int level(float value, float scale, int lowest, int highest) {
        if (scale == 0) return Math.max(lowest, Math.min(highest, 0));
        return Math.max(lowest, Math.min(highest, Rounding.nearestInt(value / scale)));
    }
}
