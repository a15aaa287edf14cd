package dev.specula.tensor;

/**
 * Conversions between float and the two 16-bit float encodings GGUF uses: IEEE half precision
 * (F16, and the scales of every quantised block) and bfloat16 (BF16).
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** Exact: every half-precision value, NaN payloads included, is a float. */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Round to nearest, ties to even, as ggml's {@code GGML_FP32_TO_FP16}. */
    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    /** Exact: a bfloat16 is the top half of a float. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /**
     * Round to nearest, ties to even, as ggml's {@code ggml_compute_fp32_to_bf16}; a NaN keeps
     * its sign and top payload bits and is made quiet, so it cannot round into an infinity.
     */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
