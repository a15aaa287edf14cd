package dev.specula.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** fp16 and bf16 conversions round as ggml's do: to nearest, ties to even; NaNs stay NaNs. */
class HalfFloatsTest {

    @Test
    void everyFiniteHalfSurvivesARoundTrip() {
        for (int h = 0; h < 1 << 16; h++) {
            if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF) != 0) continue; // NaNs: checked below
            float f = HalfFloats.f16ToFloat((short) h);
            assertEquals((short) h, HalfFloats.floatToF16(f), "0x" + Integer.toHexString(h));
        }
    }

    @Test
    void floatToF16RoundsTiesToEven() {
        assertEquals((short) 0x3C00, HalfFloats.floatToF16(1 + 0x1p-11f)); // between 1 and 1+2^-10: to the even 1
        assertEquals((short) 0x3C02, HalfFloats.floatToF16(1 + 3 * 0x1p-11f)); // between 0x3C01 and 0x3C02: to the even
        assertEquals((short) 0x3C01, HalfFloats.floatToF16(1 + 0x1p-11f + 0x1p-20f)); // just past the tie: up
        assertEquals((short) 0x7C00, HalfFloats.floatToF16(65520f)); // halfway past the largest half: infinity
        assertEquals((short) 0x7BFF, HalfFloats.floatToF16(65519f));
    }

    @Test
    void floatToBf16RoundsTiesToEven() {
        assertEquals((short) 0x3F80, HalfFloats.floatToBf16(1 + 0x1p-8f)); // tie: to the even 1.0
        assertEquals((short) 0x3F82, HalfFloats.floatToBf16(1 + 3 * 0x1p-8f)); // tie between 0x3F81 and 0x3F82
        assertEquals((short) 0x3F81, HalfFloats.floatToBf16(1 + 0x1p-8f + 0x1p-20f));
        assertEquals((short) 0xBF80, HalfFloats.floatToBf16(-1f));
        assertEquals((short) 0x7F80, HalfFloats.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0x7F80, HalfFloats.floatToBf16(Float.MAX_VALUE)); // rounds past the largest bf16
    }

    @Test
    void aNaNWhosePayloadIsAllInTheLowBitsStaysANaNInBf16() {
        // Plain rounding would carry 0x7F800001 into 0x7F80, an infinity.
        float nan = Float.intBitsToFloat(0x7F80_0001);
        short bf = HalfFloats.floatToBf16(nan);
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(bf)), Integer.toHexString(bf));
        assertEquals((short) 0xFFC0, HalfFloats.floatToBf16(Float.intBitsToFloat(0xFF80_0001)));
    }

    @Test
    void bf16ToFloatIsTheTopHalf() {
        assertEquals(1f, HalfFloats.bf16ToFloat((short) 0x3F80));
        assertEquals(-2f, HalfFloats.bf16ToFloat((short) 0xC000));
        assertEquals(Float.intBitsToFloat(0x0001_0000), HalfFloats.bf16ToFloat((short) 0x0001));
    }
}
