package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tensor of a type Specula cannot compute with fails at lookup, with one line naming it. */
class UnsupportedTypeTest {

    private static GgufTensor tensor(String name, GgmlType type) {
        long[] shape = {256, 4};
        long elements = 1024;
        long bytes = type.bytesFor(elements);
        return new GgufTensor(name, type, shape, elements, bytes, 0, 0, MemorySegment.ofArray(new byte[(int) bytes]));
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"IQ2_XXS", "Q8_K", "TQ1_0", "MXFP4", "I32"})
    void lookupNamesTheTensorAndItsType(GgmlType type) {
        UnsupportedTensorTypeException e = assertThrows(UnsupportedTensorTypeException.class,
                () -> TensorFormats.of(tensor("blk.0.ffn_down.weight", type)));
        String message = e.getMessage();
        assertTrue(message.startsWith("tensor 'blk.0.ffn_down.weight' has type " + type.name() + ", which Specula cannot compute with"),
                message);
        assertTrue(message.contains("(supported: F32, F16, Q4_0"), message);
        assertFalse(message.contains("\n"), "one line: " + message);
        assertEquals("blk.0.ffn_down.weight", e.tensorName());
        assertSame(type, e.type());
    }

    @ParameterizedTest
    @EnumSource(GgmlType.class)
    void formatsExistForExactlyTheTypesGgmlTypeCallsComputable(GgmlType type) {
        assertEquals(type.computable(), TensorFormats.supports(type), type.name());
        if (type.computable()) {
            assertSame(type, TensorFormats.of(tensor("t", type)).type());
        } else {
            assertThrows(UnsupportedTensorTypeException.class, () -> TensorFormats.of(tensor("t", type)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorFormats.of(type));
            assertTrue(e.getMessage().contains(type.name()), e.getMessage());
        }
    }

    @Test
    void theSupportedListIsTheFifteenFormatsInGgmlIdOrder() {
        assertEquals("F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, BF16",
                TensorFormats.supportedNames());
    }
}
