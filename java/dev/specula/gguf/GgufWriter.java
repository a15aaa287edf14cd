package dev.specula.gguf;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes GGUF files (v3 by default, v2 on request) for tests and tools: metadata of every value
 * type, then tensor infos, then the aligned data section. What it writes, {@link GgufFile} reads
 * back unchanged.
 */
public final class GgufWriter {
    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<PendingTensor> tensors = new ArrayList<>();
    private int version = 3;
    private int alignment = GgufParser.DEFAULT_ALIGNMENT;

    private record PendingTensor(String name, GgmlType type, long[] shape, long bytes, TensorData data) {}

    /**
     * A tensor's bytes, produced when the file is written: for models too large to hold in
     * memory (tools/make-model streams billions of weights through this).
     */
    @FunctionalInterface
    public interface TensorData {
        /** Writes exactly the tensor's bytes to {@code out}. */
        void writeTo(OutputStream out) throws IOException;
    }

    public GgufWriter version(int version) {
        if (version != 2 && version != 3) throw new IllegalArgumentException("GGUF version " + version);
        this.version = version;
        return this;
    }

    /** Sets general.alignment (and writes the key unless it is the default 32). */
    public GgufWriter alignment(int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) throw new IllegalArgumentException("alignment " + alignment);
        this.alignment = alignment;
        if (alignment != GgufParser.DEFAULT_ALIGNMENT) put("general.alignment", GgufValueType.UINT32, (long) alignment);
        return this;
    }

    /** Any value: Long for integer types, Float/Double, Boolean, String, or a {@link GgufArray}. */
    public GgufWriter put(String key, GgufValueType type, Object value) {
        metadata.put(key, GgufValue.of(type, value));
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValueType.STRING, value);
    }

    public GgufWriter putUInt32(String key, long value) {
        return put(key, GgufValueType.UINT32, value);
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValueType.INT32, (long) value);
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValueType.FLOAT32, value);
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValueType.BOOL, value);
    }

    public GgufWriter putArray(String key, GgufArray array) {
        return put(key, GgufValueType.ARRAY, array);
    }

    public GgufWriter putStrings(String key, String... values) {
        return putArray(key, new GgufArray(GgufValueType.STRING, values));
    }

    /** Adds a tensor; {@code data} must hold exactly the bytes its type and shape need. */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, byte[] data) {
        long bytes = bytesFor(name, type, shape);
        if (bytes != data.length) throw new IllegalArgumentException(name + ": " + data.length + " bytes given, " + bytes + " needed");
        tensors.add(new PendingTensor(name, type, shape.clone(), bytes, out -> out.write(data)));
        return this;
    }

    /** Adds a tensor whose bytes {@code data} writes when the file is written (checked to be exactly the size its type and shape need). */
    public GgufWriter addTensor(String name, GgmlType type, long[] shape, TensorData data) {
        tensors.add(new PendingTensor(name, type, shape.clone(), bytesFor(name, type, shape), data));
        return this;
    }

    private static long bytesFor(String name, GgmlType type, long[] shape) {
        long elements = 1;
        for (long d : shape) elements = Math.multiplyExact(elements, d);
        if (shape[0] % type.blockSize != 0) throw new IllegalArgumentException(name + ": shape[0] % block size");
        return type.bytesFor(elements);
    }

    public GgufWriter addF32Tensor(String name, long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return addTensor(name, GgmlType.F32, shape, b.array());
    }

    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    public void write(Path path) throws IOException {
        try (OutputStream out = new java.io.BufferedOutputStream(Files.newOutputStream(path), 1 << 16)) {
            writeTo(out);
        }
    }

    public void writeTo(OutputStream os) throws IOException {
        LeOut out = new LeOut(os);
        out.i32(GgufParser.MAGIC);
        out.i32(version);
        out.i64(tensors.size());
        out.i64(metadata.size());
        for (Map.Entry<String, GgufValue> e : metadata.entrySet()) {
            out.string(e.getKey());
            out.i32(e.getValue().type().id);
            writeValue(out, e.getValue().type(), e.getValue().value());
        }
        long offset = 0;
        List<Long> offsets = new ArrayList<>();
        for (PendingTensor t : tensors) {
            out.string(t.name);
            out.i32(t.shape.length);
            for (long d : t.shape) out.i64(d);
            out.i32(t.type.id);
            out.i64(offset);
            offsets.add(offset);
            offset = align(offset + t.bytes);
        }
        out.pad(align(out.written) - out.written);
        for (PendingTensor t : tensors) {
            long before = out.written;
            t.data.writeTo(out.counting);
            if (out.written - before != t.bytes) {
                throw new IllegalStateException(t.name + ": " + (out.written - before) + " bytes written, " + t.bytes + " declared");
            }
            out.pad(align(t.bytes) - t.bytes);
        }
        out.flush();
    }

    private long align(long n) {
        return Math.ceilDiv(n, alignment) * alignment;
    }

    private static void writeValue(LeOut out, GgufValueType type, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8, BOOL -> out.i8(v instanceof Boolean b ? (b ? 1 : 0) : ((Number) v).intValue());
            case UINT16, INT16 -> out.i16(((Number) v).intValue());
            case UINT32, INT32 -> out.i32(((Number) v).intValue());
            case UINT64, INT64 -> out.i64(((Number) v).longValue());
            case FLOAT32 -> out.i32(Float.floatToRawIntBits(((Number) v).floatValue()));
            case FLOAT64 -> out.i64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
            case STRING -> out.string((String) v);
            case ARRAY -> {
                GgufArray a = (GgufArray) v;
                out.i32(a.elementType().id);
                int n = a.size();
                out.i64(n);
                for (int i = 0; i < n; i++) writeValue(out, a.elementType(), java.lang.reflect.Array.get(a.data(), i));
            }
        }
    }

    /** Little-endian output that counts what it wrote. */
    private static final class LeOut {
        private final OutputStream out;
        private final byte[] buf = new byte[8];
        long written;
        /** The same stream for bulk data, counting into {@link #written}. */
        final OutputStream counting = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                out.write(b);
                written++;
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                written += len;
            }
        };

        LeOut(OutputStream out) {
            this.out = out;
        }

        void i8(int v) throws IOException {
            out.write(v);
            written++;
        }

        void i16(int v) throws IOException {
            buf[0] = (byte) v;
            buf[1] = (byte) (v >>> 8);
            out.write(buf, 0, 2);
            written += 2;
        }

        void i32(int v) throws IOException {
            for (int i = 0; i < 4; i++) buf[i] = (byte) (v >>> (8 * i));
            out.write(buf, 0, 4);
            written += 4;
        }

        void i64(long v) throws IOException {
            for (int i = 0; i < 8; i++) buf[i] = (byte) (v >>> (8 * i));
            out.write(buf, 0, 8);
            written += 8;
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            bytes(b);
        }

        void bytes(byte[] b) throws IOException {
            out.write(b);
            written += b.length;
        }

        void pad(long n) throws IOException {
            for (long i = 0; i < n; i++) out.write(0);
            written += n;
        }

        void flush() throws IOException {
            out.flush();
        }
    }
}
