package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both paths of every format decode random blocks to exactly the values the format defines. */
class DequantizeMatchesDefinitionTest {

    static Stream<GgmlType> formats() {
        return TensorFormats.supported().stream();
    }

    @ParameterizedTest
    @MethodSource("formats")
    void vectorAndScalarDequantizeGiveTheDefinedValuesBitForBit(GgmlType type) {
        TensorFormat format = TensorFormats.of(type);
        Random rng = new Random(1000 + type.id);
        for (int count : TwinCheck.lengths(type)) {
            int lead = 3 * type.blockSize;
            byte[] bytes = RandomBlocks.of(type, lead + count, rng);
            float[] expected = FormatDefinitions.decode(type, bytes, (int) type.bytesFor(lead), count);
            float[] vector = new float[count];
            float[] scalar = new float[count];
            format.dequantize(MemorySegment.ofArray(bytes), lead, vector, 0, count);
            format.dequantizeScalar(MemorySegment.ofArray(bytes), lead, scalar, 0, count);
            assertArrayEquals(expected, scalar, type + " dequantizeScalar, " + count + " elements");
            assertArrayEquals(expected, vector, type + " dequantize, " + count + " elements");
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void dotEqualsTheDefinedWeightsTimesActivations(GgmlType type) {
        TensorFormat format = TensorFormats.of(type);
        Random rng = new Random(2000 + type.id);
        for (int count : TwinCheck.lengths(type)) {
            byte[] bytes = RandomBlocks.of(type, count, rng);
            float[] w = FormatDefinitions.decode(type, bytes, 0, count);
            float[] x = RandomBlocks.gaussians(count, rng);
            double expected = 0;
            double magnitude = 0;
            for (int i = 0; i < count; i++) {
                expected += (double) w[i] * x[i];
                magnitude += Math.abs((double) w[i] * x[i]);
            }
            double tolerance = TwinCheck.DOT_TOLERANCE * magnitude + Float.MIN_NORMAL;
            MemorySegment seg = MemorySegment.ofArray(bytes);
            assertEquals(expected, format.dot(seg, 0, x, 0, count), tolerance, type + " dot, " + count + " elements");
            assertEquals(expected, format.dotScalar(seg, 0, x, 0, count), tolerance, type + " dotScalar, " + count + " elements");
        }
    }

    @Test
    void everyHalfPrecisionBitPatternDecodesExactlyNaNPayloadsIncluded() {
        int n = 1 << 16;
        MemorySegment all = MemorySegment.ofArray(new short[n]);
        for (int h = 0; h < n; h++) all.setAtIndex(LittleEndian.SHORT, h, (short) h);
        TensorFormat f16 = TensorFormats.of(GgmlType.F16);
        float[] vector = new float[n];
        float[] scalar = new float[n];
        f16.dequantize(all, 0, vector, 0, n);
        f16.dequantizeScalar(all, 0, scalar, 0, n);
        for (int i = 0; i < n; i++) {
            int h = i;
            float defined = FormatDefinitions.half(h);
            int jdk = Float.floatToRawIntBits(Float.float16ToFloat((short) h));
            assertEquals(jdk, Float.floatToRawIntBits(vector[h]), () -> "vector F16 of 0x" + Integer.toHexString(h));
            assertEquals(jdk, Float.floatToRawIntBits(scalar[h]), () -> "scalar F16 of 0x" + Integer.toHexString(h));
            assertEquals(Float.floatToIntBits(defined), Float.floatToIntBits(vector[h]), () -> "F16 of 0x" + Integer.toHexString(h));
        }
    }

    @Test
    void everyBfloat16BitPatternIsTheTopHalfOfAFloat() {
        int n = 1 << 16;
        MemorySegment all = MemorySegment.ofArray(new short[n]);
        for (int h = 0; h < n; h++) all.setAtIndex(LittleEndian.SHORT, h, (short) h);
        float[] vector = TensorFormats.of(GgmlType.BF16).dequantize(all, n);
        for (int h = 0; h < n; h++) {
            assertEquals(h << 16, Float.floatToRawIntBits(vector[h]), "BF16 of 0x" + Integer.toHexString(h));
        }
    }

    @Test
    void theDefinitionsDecodeAHandBuiltQ4_0BlockAsExpected() {
        // A check on the test's own decoder: d = 0.5, byte j = (j low, 15 - j high).
        byte[] block = new byte[18];
        block[0] = 0x00;
        block[1] = 0x38; // 0.5 in fp16
        for (int j = 0; j < 16; j++) block[2 + j] = (byte) (j | (15 - j) << 4);
        float[] w = FormatDefinitions.decode(GgmlType.Q4_0, block, 0, 32);
        for (int j = 0; j < 16; j++) {
            assertEquals((j - 8) * 0.5f, w[j]);
            assertEquals((7 - j) * 0.5f, w[16 + j]);
        }
        assertTrue(TensorFormats.supports(GgmlType.Q4_0));
    }
}
