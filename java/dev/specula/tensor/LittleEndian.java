package dev.specula.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reads and writes the fields of GGUF blocks. GGUF is little-endian whatever the host is, and
 * block fields sit at odd offsets (an 18-byte Q4_0 block puts every other scale off alignment),
 * hence the unaligned layouts.
 */
final class LittleEndian {
    static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ORDER);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ORDER);
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ORDER);

    private LittleEndian() {}

    static int u8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }

    static int i8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at);
    }

    static int u16(MemorySegment s, long at) {
        return s.get(SHORT, at) & 0xFFFF;
    }

    static int i32(MemorySegment s, long at) {
        return s.get(INT, at);
    }

    static float f32(MemorySegment s, long at) {
        return s.get(FLOAT, at);
    }

    static float f16(MemorySegment s, long at) {
        return HalfFloats.f16ToFloat(s.get(SHORT, at));
    }

    static float bf16(MemorySegment s, long at) {
        return HalfFloats.bf16ToFloat(s.get(SHORT, at));
    }

    static void putU8(MemorySegment s, long at, int v) {
        s.set(ValueLayout.JAVA_BYTE, at, (byte) v);
    }

    static void putU16(MemorySegment s, long at, int v) {
        s.set(SHORT, at, (short) v);
    }

    static void putI32(MemorySegment s, long at, int v) {
        s.set(INT, at, v);
    }

    static void putF32(MemorySegment s, long at, float v) {
        s.set(FLOAT, at, v);
    }

    static void putF16(MemorySegment s, long at, float v) {
        s.set(SHORT, at, HalfFloats.floatToF16(v));
    }

    static void putBf16(MemorySegment s, long at, float v) {
        s.set(SHORT, at, HalfFloats.floatToBf16(v));
    }
}
