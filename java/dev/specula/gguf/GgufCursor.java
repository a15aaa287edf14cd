package dev.specula.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Bounds-checked little-endian reads over a mapped file; every read names the field it reads. */
final class GgufCursor {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final Path file;
    final MemorySegment seg;
    final long size;
    long pos;

    GgufCursor(Path file, MemorySegment seg) {
        this.file = file;
        this.seg = seg;
        this.size = seg.byteSize();
    }

    long remaining() {
        return size - pos;
    }

    GgufFormatException error(long at, String what) {
        return new GgufFormatException(file, at, what);
    }

    void need(long n, String field) {
        if (n < 0 || n > size - pos) {
            throw error(pos, field + ": needs " + (n < 0 ? Long.toUnsignedString(n) : n) + " bytes but the file has "
                    + (size - pos) + " left (truncated file?)");
        }
    }

    byte i8(String field) {
        need(1, field);
        return seg.get(ValueLayout.JAVA_BYTE, pos++);
    }

    short i16(String field) {
        need(2, field);
        short v = seg.get(I16, pos);
        pos += 2;
        return v;
    }

    int i32(String field) {
        need(4, field);
        int v = seg.get(I32, pos);
        pos += 4;
        return v;
    }

    long i64(String field) {
        need(8, field);
        long v = seg.get(I64, pos);
        pos += 8;
        return v;
    }

    float f32(String field) {
        need(4, field);
        float v = seg.get(F32, pos);
        pos += 4;
        return v;
    }

    double f64(String field) {
        need(8, field);
        double v = seg.get(F64, pos);
        pos += 8;
        return v;
    }

    /** A uint64 count that must also fit the remaining bytes at {@code minBytesEach} per item. */
    long count(String field, long minBytesEach) {
        long at = pos;
        long n = i64(field);
        if (n < 0 || (minBytesEach > 0 && n > remaining() / minBytesEach)) {
            throw error(at, field + " is " + Long.toUnsignedString(n) + ", more than the "
                    + remaining() + " bytes left in the file can hold");
        }
        return n;
    }

    String string(String field) {
        return string(field, -1);
    }

    /** A string element; {@code index} (or -1) is appended to the field name only on error. */
    String string(String field, long index) {
        long at = pos;
        if (remaining() < 8) {
            throw error(pos, label(field, index) + " length: needs 8 bytes but the file has " + remaining()
                    + " left (truncated file?)");
        }
        long len = seg.get(I64, pos);
        pos += 8;
        if (len < 0 || len > remaining()) {
            throw error(at, label(field, index) + " length " + Long.toUnsignedString(len)
                    + " runs past the end of the file (" + remaining() + " bytes left)");
        }
        if (len > Integer.MAX_VALUE - 8) throw error(at, label(field, index) + " length " + len + " is too large");
        byte[] bytes = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
        pos += len;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String label(String field, long index) {
        return index >= 0 ? field + "[" + index + "]" : field;
    }

    void skipTo(long target, String field) {
        if (target < pos || target > size) throw error(pos, field + ": cannot move to offset " + target);
        pos = target;
    }

    byte[] bytes(long offset, int n) {
        return seg.asSlice(offset, n).toArray(ValueLayout.JAVA_BYTE);
    }

    static short[] shorts(MemorySegment s) {
        return s.toArray(I16);
    }

    static int[] ints(MemorySegment s) {
        return s.toArray(I32);
    }

    static long[] longs(MemorySegment s) {
        return s.toArray(I64);
    }

    static float[] floats(MemorySegment s) {
        return s.toArray(F32);
    }

    static double[] doubles(MemorySegment s) {
        return s.toArray(F64);
    }
}
