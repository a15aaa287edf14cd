package dev.specula.gguf;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses and validates one GGUF file (one part of a split model) that is already mapped.
 * Everything is checked before it is used: a hostile or truncated file yields one
 * {@link GgufFormatException} naming the field and offset, never an exception from deep inside.
 */
final class GgufParser {
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    static final int DEFAULT_ALIGNMENT = 32;
    /** ggml's GGML_MAX_DIMS. */
    static final int MAX_DIMS = 4;
    /** ggml's GGML_MAX_NAME includes the terminating NUL, so names have at most 63 bytes. */
    static final int MAX_TENSOR_NAME_BYTES = 63;
    /** Nested metadata arrays deeper than this are refused (no real file nests more than 2). */
    static final int MAX_ARRAY_DEPTH = 8;
    /** Smallest possible tensor info: name length, n_dims, one dim, type, offset. */
    private static final long MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;
    /** Smallest possible key/value: key length, value type, one byte of value. */
    private static final long MIN_KV_BYTES = 8 + 4 + 1;

    /** The parsed content of one file. */
    record Part(Path path, int version, GgufMetadata metadata, List<GgufTensor> tensors,
                int alignment, long dataOffset) {}

    static Part parse(Path path, MemorySegment seg, int partIndex) {
        GgufCursor c = new GgufCursor(path, seg);
        int magic = c.i32("magic");
        if (magic != MAGIC) {
            throw c.error(0, "not a GGUF file: magic is 0x" + Integer.toHexString(magic) + ", expected 0x46554747 (\"GGUF\")");
        }
        int version = c.i32("version");
        if (version != 2 && version != 3) {
            if (Integer.reverseBytes(version) >= 1 && Integer.reverseBytes(version) <= 3) {
                throw c.error(4, "big-endian GGUF files are not supported (version field reads 0x"
                        + Integer.toHexString(version) + ")");
            }
            throw c.error(4, "GGUF version " + Integer.toUnsignedString(version)
                    + " is not supported (Specula reads versions 2 and 3)");
        }
        long tensorCount = c.count("tensor count", MIN_TENSOR_INFO_BYTES);
        long kvCount = c.count("metadata key/value count", MIN_KV_BYTES);

        Map<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            long at = c.pos;
            String key = c.string("metadata key " + i);
            if (key.isEmpty()) throw c.error(at, "metadata key " + i + " is empty");
            if (kv.containsKey(key)) throw c.error(at, "metadata key '" + key + "' appears twice");
            long typeAt = c.pos;
            int typeId = c.i32("type of metadata key '" + key + "'");
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) {
                throw c.error(typeAt, "metadata key '" + key + "' has unknown value type id " + Integer.toUnsignedString(typeId));
            }
            long valueAt = c.pos;
            Object value = readValue(c, type, "metadata key '" + key + "'", 0);
            kv.put(key, new GgufValue(type, value, valueAt));
        }
        GgufMetadata metadata = new GgufMetadata(path, kv);
        int alignment = alignment(c, metadata);

        record Info(String name, GgmlType type, long[] shape, long elements, long bytes, long relOffset, long at) {}
        List<Info> infos = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            long at = c.pos;
            String name = c.string("name of tensor " + i);
            String label = "tensor '" + name + "'";
            if (name.isEmpty()) throw c.error(at, "tensor " + i + " has an empty name");
            if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_TENSOR_NAME_BYTES) {
                throw c.error(at, label + ": name is longer than " + MAX_TENSOR_NAME_BYTES + " bytes");
            }
            if (!names.add(name)) throw c.error(at, label + " appears twice");
            long dimsAt = c.pos;
            int nDims = c.i32(label + " n_dims");
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw c.error(dimsAt, label + " has n_dims " + Integer.toUnsignedString(nDims) + ", expected 1.." + MAX_DIMS);
            }
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                long dimAt = c.pos;
                shape[d] = c.i64(label + " dimension " + d);
                if (shape[d] < 0) {
                    throw c.error(dimAt, label + " dimension " + d + " is " + Long.toUnsignedString(shape[d]) + ", out of range");
                }
                if (shape[d] != 0 && elements > Long.MAX_VALUE / shape[d]) {
                    throw c.error(dimAt, label + " has more elements than fit in 63 bits");
                }
                elements *= shape[d];
            }
            long typeAt = c.pos;
            int typeId = c.i32(label + " type");
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw c.error(typeAt, label + " has unknown type id " + Integer.toUnsignedString(typeId));
            }
            if (shape[0] % type.blockSize != 0) {
                throw c.error(dimsAt, label + " of type " + type + " has first dimension " + shape[0]
                        + ", not a multiple of the block size " + type.blockSize);
            }
            if (elements / type.blockSize > Long.MAX_VALUE / type.blockBytes) {
                throw c.error(dimsAt, label + " is too large to address (" + elements + " elements of " + type + ")");
            }
            long offAt = c.pos;
            long rel = c.i64(label + " data offset");
            if (rel < 0 || rel % alignment != 0) {
                throw c.error(offAt, label + " data offset " + Long.toUnsignedString(rel)
                        + " is not a multiple of the alignment " + alignment);
            }
            infos.add(new Info(name, type, shape, elements, type.bytesFor(elements), rel, offAt));
        }

        long dataOffset = Math.ceilDiv(c.pos, alignment) * alignment;
        long dataSize = Math.max(0, c.size - dataOffset);
        List<GgufTensor> tensors = new ArrayList<>(infos.size());
        for (Info t : infos) {
            if (t.bytes > dataSize || t.relOffset > dataSize - t.bytes) {
                throw c.error(t.at, "tensor '" + t.name + "' data [" + t.relOffset + ", " + (t.relOffset + t.bytes)
                        + ") of the data section runs past the end of the file (data section holds " + dataSize
                        + " bytes; truncated file?)");
            }
            long abs = dataOffset + t.relOffset;
            tensors.add(new GgufTensor(t.name, t.type, t.shape, t.elements, t.bytes, partIndex, abs,
                    seg.asSlice(abs, t.bytes)));
        }
        checkNoOverlap(c, tensors);
        return new Part(path, version, metadata, List.copyOf(tensors), alignment, dataOffset);
    }

    private static int alignment(GgufCursor c, GgufMetadata metadata) {
        GgufValue v = metadata.asMap().get("general.alignment");
        if (v == null) return DEFAULT_ALIGNMENT;
        if (v.type() != GgufValueType.UINT32) {
            throw c.error(v.offset(), "general.alignment is " + v.type() + ", expected UINT32");
        }
        long a = (Long) v.value();
        if (a <= 0 || Long.bitCount(a) != 1) {
            throw c.error(v.offset(), "general.alignment is " + a + ", expected a power of two");
        }
        return (int) a;
    }

    private static void checkNoOverlap(GgufCursor c, List<GgufTensor> tensors) {
        List<GgufTensor> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(GgufTensor::fileOffset));
        for (int i = 1; i < byOffset.size(); i++) {
            GgufTensor prev = byOffset.get(i - 1), cur = byOffset.get(i);
            if (prev.byteSize() > 0 && cur.fileOffset() < prev.fileOffset() + prev.byteSize()) {
                throw c.error(cur.fileOffset(), "tensor '" + cur.name() + "' overlaps the data of tensor '" + prev.name() + "'");
            }
        }
    }

    private static Object readValue(GgufCursor c, GgufValueType type, String field, int depth) {
        return switch (type) {
            case UINT8 -> (long) Byte.toUnsignedInt(c.i8(field));
            case INT8 -> (long) c.i8(field);
            case UINT16 -> (long) Short.toUnsignedInt(c.i16(field));
            case INT16 -> (long) c.i16(field);
            case UINT32 -> Integer.toUnsignedLong(c.i32(field));
            case INT32 -> (long) c.i32(field);
            case UINT64, INT64 -> c.i64(field);
            case FLOAT32 -> c.f32(field);
            case FLOAT64 -> c.f64(field);
            case BOOL -> {
                long at = c.pos;
                byte b = c.i8(field);
                if (b != 0 && b != 1) throw c.error(at, field + " is a BOOL with value " + b + ", expected 0 or 1");
                yield b == 1;
            }
            case STRING -> c.string(field);
            case ARRAY -> readArray(c, field, depth + 1);
        };
    }

    private static GgufArray readArray(GgufCursor c, String field, int depth) {
        if (depth > MAX_ARRAY_DEPTH) throw c.error(c.pos, field + ": arrays nested deeper than " + MAX_ARRAY_DEPTH);
        long typeAt = c.pos;
        int typeId = c.i32(field + " element type");
        GgufValueType et = GgufValueType.byId(typeId);
        if (et == null) throw c.error(typeAt, field + " has unknown array element type id " + Integer.toUnsignedString(typeId));
        long n = c.count(field + " element count", et.minBytes);
        if (n > Integer.MAX_VALUE - 8) throw c.error(typeAt, field + " has " + n + " elements, too many");
        int count = (int) n;
        Object data = switch (et) {
            case UINT8, INT8 -> bulk(c, count, 1).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            case UINT16, INT16 -> GgufCursor.shorts(bulk(c, count, 2));
            case UINT32, INT32 -> GgufCursor.ints(bulk(c, count, 4));
            case UINT64, INT64 -> GgufCursor.longs(bulk(c, count, 8));
            case FLOAT32 -> GgufCursor.floats(bulk(c, count, 4));
            case FLOAT64 -> GgufCursor.doubles(bulk(c, count, 8));
            case BOOL -> {
                boolean[] b = new boolean[count];
                for (int i = 0; i < count; i++) b[i] = (Boolean) readValue(c, et, field + "[" + i + "]", depth);
                yield b;
            }
            case STRING -> {
                String[] s = new String[count];
                for (int i = 0; i < count; i++) s[i] = c.string(field, i);
                yield s;
            }
            case ARRAY -> {
                GgufArray[] a = new GgufArray[count];
                for (int i = 0; i < count; i++) a[i] = readArray(c, field + "[" + i + "]", depth + 1);
                yield a;
            }
        };
        return new GgufArray(et, data);
    }

    private static MemorySegment bulk(GgufCursor c, int count, int width) {
        long bytes = (long) count * width;
        c.need(bytes, "array data");
        MemorySegment s = c.seg.asSlice(c.pos, bytes);
        c.pos += bytes;
        return s;
    }
}
