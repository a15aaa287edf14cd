package dev.specula.backend.cuda;

import dev.specula.gguf.GgmlType;
import dev.specula.tensor.TensorFormat;
import dev.specula.tensor.TensorFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * specula.h implemented on the host, in Java, behind real native function pointers (FFM upcall
 * stubs): {@link CudaLibrary} binds it exactly as it binds libspecula_cuda, so the whole CUDA
 * path of Java (argument and struct marshalling, buffers and offsets, graph recording and
 * replay, positions read from device memory) runs in CI without a GPU.
 *
 * <p>It follows the header's contract, not the real kernels' code: kernels queued on a stream run
 * at once, unless the stream is recording, when they are captured with their arguments (struct
 * parameters copied, as a kernel launch copies them) and run at each replay, reading their data,
 * positions included, when they run. GEMV takes F32 activations; GEMM rounds activations and
 * dequantised weights to F16 as the tensor-core kernel does; attention rounds queries to F16.
 * It is a functional stand-in, not a simulator of the device's arithmetic.
 */
public final class EmulatedCuda {
    static final int OK = 0, INVALID_ARGUMENT = 1, UNSUPPORTED = 4, BACKEND = 5;
    /** Sticky kernel error bits, as the real library reports them. */
    static final int ERROR_BAD_ID = 1, ERROR_BAD_POSITION = 2, ERROR_BAD_EXPERT = 4;
    static final Set<GgmlType> TYPES = Set.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q8_0,
            GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K);

    private static CudaLibrary library;

    /** The emulated library (one per JVM: its upcall stubs live as long as the JVM). */
    public static synchronized CudaLibrary library() {
        if (library == null) library = new EmulatedCuda().bind();
        return library;
    }

    private static CudaLibrary metal;

    /** The same emulation reporting itself as the Metal backend (which has no expert kernels), for the checks that depend on it. */
    public static synchronized CudaLibrary asMetal() {
        if (metal == null) metal = new EmulatedCuda().bind("metal");
        return metal;
    }

    private final AtomicLong nextHandle = new AtomicLong(0x10000);
    private final Map<Long, Object> handles = new HashMap<>();
    private final ThreadLocal<MemorySegment> lastError = ThreadLocal.withInitial(() -> Arena.ofAuto().allocateFrom(""));
    private int stickyErrors;

    private record Buf(Arena arena, MemorySegment memory, boolean registered) {}

    private static final class Stream {
        List<Runnable> capture;
    }

    private record Graph(List<Runnable> steps) {}

    private static final class Event {
        long nanos = -1;
    }

    /** A failed call: its status and message. */
    private static final class Failure extends RuntimeException {
        final int status;

        Failure(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }

    private CudaLibrary bind() {
        return bind("cuda");
    }

    private CudaLibrary bind(String backend) {
        Linker linker = Linker.nativeLinker();
        Map<String, MemorySegment> stubs = new HashMap<>();
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        try {
            for (Map.Entry<String, FunctionDescriptor> f : CudaLibrary.FUNCTIONS.entrySet()) {
                MethodType type = f.getValue().toMethodType();
                MethodHandle target = lookup.findVirtual(EmulatedCuda.class, f.getKey(), type).bindTo(this);
                target = guarded(target, type, lookup);
                stubs.put(f.getKey(), linker.upcallStub(target, f.getValue(), Arena.global()));
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("the emulation lacks a function of specula.h", e);
        }
        SymbolLookup symbols = name -> Optional.ofNullable(stubs.get(name));
        return CudaLibrary.bind(Path.of("<host emulation of specula.h>"), backend, symbols);
    }

    /** An exception escaping an upcall would end the JVM: status-returning functions turn it into a failed status. */
    private MethodHandle guarded(MethodHandle target, MethodType type, MethodHandles.Lookup lookup) throws ReflectiveOperationException {
        String handler = type.returnType() == int.class ? "failedStatus" : type.returnType() == long.class ? "failedSize" : null;
        if (handler == null) return target;
        MethodHandle h = lookup.findVirtual(EmulatedCuda.class, handler, MethodType.methodType(type.returnType(), Throwable.class)).bindTo(this);
        h = MethodHandles.dropArguments(h, 1, type.parameterList());
        return MethodHandles.catchException(target, Throwable.class, h);
    }

    int failedStatus(Throwable t) {
        int status = t instanceof Failure f ? f.status : BACKEND;
        setError(t instanceof Failure ? t.getMessage() : t.toString());
        return status;
    }

    long failedSize(Throwable t) {
        setError(t.toString());
        return 0;
    }

    private void setError(String message) {
        lastError.set(Arena.ofAuto().allocateFrom(message));
    }

    private static Failure invalid(String message) {
        return new Failure(INVALID_ARGUMENT, message);
    }

    // ---- handles ---------------------------------------------------------------------------------

    private synchronized long register(Object o) {
        long h = nextHandle.getAndAdd(16);
        handles.put(h, o);
        return h;
    }

    private synchronized <T> T get(MemorySegment handle, Class<T> type, String what) {
        Object o = handles.get(handle.address());
        if (!type.isInstance(o)) throw invalid(what + " is not a live " + type.getSimpleName().toLowerCase() + " handle");
        return type.cast(o);
    }

    private synchronized void release(MemorySegment handle) {
        handles.remove(handle.address());
    }

    private static void out(MemorySegment pointer, long handle) {
        if (pointer.address() == 0) throw invalid("output pointer is NULL");
        pointer.reinterpret(8).set(ValueLayout.ADDRESS, 0, MemorySegment.ofAddress(handle));
    }

    /** [offset, offset + bytes) of a buffer, checked. */
    private MemorySegment range(MemorySegment buffer, long offset, long bytes, String what) {
        Buf b = get(buffer, Buf.class, what);
        long size = b.memory.byteSize();
        if (offset < 0 || bytes < 0 || offset > size || bytes > size - offset) {
            throw invalid(what + ": range [" + offset + ", " + offset + " + " + bytes + ") is outside the buffer of " + size + " bytes");
        }
        return b.memory.asSlice(offset, bytes);
    }

    /** Runs op now, or captures it when the stream records; a NULL stream runs now. */
    private void queue(MemorySegment stream, Runnable op) {
        if (stream.address() == 0) {
            op.run();
            return;
        }
        Stream s = get(stream, Stream.class, "stream");
        if (s.capture != null) s.capture.add(op);
        else op.run();
    }

    // ---- versioning, errors, devices -------------------------------------------------------------

    int specula_abi_version() {
        return CudaLibrary.ABI_VERSION;
    }

    MemorySegment specula_last_error() {
        return lastError.get();
    }

    private static final String[] STATUS = {"SPECULA_OK", "SPECULA_ERROR_INVALID_ARGUMENT", "SPECULA_ERROR_OUT_OF_MEMORY",
            "SPECULA_ERROR_NO_DEVICE", "SPECULA_ERROR_UNSUPPORTED", "SPECULA_ERROR_BACKEND"};
    private final MemorySegment[] statusNames = java.util.Arrays.stream(STATUS).map(Arena.global()::allocateFrom).toArray(MemorySegment[]::new);
    private final MemorySegment unknownStatus = Arena.global().allocateFrom("SPECULA_ERROR_UNKNOWN");

    MemorySegment specula_status_name(int status) {
        return status >= 0 && status < statusNames.length ? statusNames[status] : unknownStatus;
    }

    int specula_device_count(MemorySegment count) {
        count.reinterpret(4).set(ValueLayout.JAVA_INT, 0, 1);
        return OK;
    }

    int specula_device_get_info(int device, MemorySegment info) {
        if (device != 0) throw invalid("device " + device + " does not exist (1 device)");
        MemorySegment m = info.reinterpret(CudaLibrary.DEVICE_INFO.byteSize());
        m.fill((byte) 0);
        byte[] name = "Specula host emulation of specula.h".getBytes(StandardCharsets.UTF_8);
        MemorySegment.copy(name, 0, m, ValueLayout.JAVA_BYTE, 0, name.length);
        long o = CudaLibrary.DEVICE_INFO.byteOffset(MemoryLayout.PathElement.groupElement("total_memory"));
        m.set(ValueLayout.JAVA_LONG, o, 16L << 30);
        m.set(ValueLayout.JAVA_LONG, o + 8, 12L << 30);
        m.set(ValueLayout.JAVA_INT, o + 16, 9);
        m.set(ValueLayout.JAVA_INT, o + 24, 0);
        m.set(ValueLayout.JAVA_INT, o + 28, 1);
        m.set(ValueLayout.JAVA_INT, o + 32, 1);
        return OK;
    }

    // ---- streams, buffers, events ----------------------------------------------------------------

    int specula_stream_create(int device, MemorySegment stream) {
        out(stream, register(new Stream()));
        return OK;
    }

    int specula_stream_synchronize(MemorySegment stream) {
        get(stream, Stream.class, "stream");
        return OK;
    }

    int specula_stream_destroy(MemorySegment stream) {
        if (stream.address() != 0) release(stream);
        return OK;
    }

    int specula_buffer_alloc(int device, long bytes, MemorySegment buffer) {
        if (bytes <= 0) throw invalid("a buffer of " + bytes + " bytes");
        Arena a = Arena.ofShared();
        // Fresh device memory holds garbage: NaN bytes, so that reading before writing shows.
        MemorySegment m = a.allocate(bytes, 256).fill((byte) 0xFF);
        out(buffer, register(new Buf(a, m, false)));
        return OK;
    }

    int specula_buffer_register_host(int device, MemorySegment host, long bytes, MemorySegment buffer) {
        out(buffer, register(new Buf(null, host.reinterpret(bytes), true)));
        return OK;
    }

    int specula_buffer_free(MemorySegment buffer) {
        if (buffer.address() == 0) return OK;
        Buf b = get(buffer, Buf.class, "buffer");
        release(buffer);
        if (b.arena != null) b.arena.close();
        return OK;
    }

    long specula_buffer_size(MemorySegment buffer) {
        return buffer.address() == 0 ? 0 : get(buffer, Buf.class, "buffer").memory.byteSize();
    }

    int specula_buffer_upload(MemorySegment buffer, long offset, MemorySegment host, long bytes, MemorySegment stream) {
        MemorySegment dst = range(buffer, offset, bytes, "upload");
        if (get(buffer, Buf.class, "buffer").registered) throw new Failure(UNSUPPORTED, "registered host memory is read-only to the device");
        MemorySegment src = host.reinterpret(bytes);
        queue(stream, () -> dst.copyFrom(src));
        return OK;
    }

    int specula_buffer_download(MemorySegment buffer, long offset, MemorySegment host, long bytes, MemorySegment stream) {
        MemorySegment src = range(buffer, offset, bytes, "download");
        MemorySegment dst = host.reinterpret(bytes);
        queue(stream, () -> dst.copyFrom(src));
        return OK;
    }

    int specula_buffer_copy(MemorySegment dst, long dstOffset, MemorySegment src, long srcOffset, long bytes, MemorySegment stream) {
        MemorySegment to = range(dst, dstOffset, bytes, "copy destination"), from = range(src, srcOffset, bytes, "copy source");
        queue(stream, () -> to.copyFrom(from));
        return OK;
    }

    int specula_buffer_fill(MemorySegment buffer, long offset, long bytes, int value, MemorySegment stream) {
        MemorySegment m = range(buffer, offset, bytes, "fill");
        queue(stream, () -> m.fill((byte) value));
        return OK;
    }

    int specula_event_create(int device, MemorySegment event) {
        out(event, register(new Event()));
        return OK;
    }

    int specula_event_record(MemorySegment event, MemorySegment stream) {
        Event e = get(event, Event.class, "event");
        queue(stream, () -> e.nanos = System.nanoTime());
        return OK;
    }

    int specula_event_elapsed(MemorySegment start, MemorySegment end, MemorySegment milliseconds) {
        Event a = get(start, Event.class, "start event"), b = get(end, Event.class, "end event");
        if (a.nanos < 0 || b.nanos < 0) throw invalid("an event that was never recorded");
        milliseconds.reinterpret(4).set(ValueLayout.JAVA_FLOAT, 0, (b.nanos - a.nanos) / 1e6f);
        return OK;
    }

    int specula_event_destroy(MemorySegment event) {
        if (event.address() != 0) release(event);
        return OK;
    }

    // ---- kernels ---------------------------------------------------------------------------------

    int specula_type_supported(int type) {
        GgmlType t = GgmlType.byId(type);
        return t != null && TYPES.contains(t) ? 1 : 0;
    }

    private static TensorFormat format(int type) {
        GgmlType t = GgmlType.byId(type);
        if (t == null || !TYPES.contains(t)) throw new Failure(UNSUPPORTED, "type " + type + " is not supported by the kernels");
        return TensorFormats.of(t);
    }

    private static float[] floats(MemorySegment m) {
        return m.toArray(ValueLayout.JAVA_FLOAT);
    }

    private static void store(float[] v, MemorySegment m) {
        MemorySegment.copy(v, 0, m, ValueLayout.JAVA_FLOAT, 0, v.length);
    }

    private static float half(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    int specula_gemv(MemorySegment stream, int type, MemorySegment w, long wOff, long rows, long cols, MemorySegment x, long xOff,
                     int n, MemorySegment y, long yOff) {
        if (n < 1 || n > 8) throw invalid("gemv takes 1 to 8 rows, got " + n);
        return product(stream, type, w, wOff, rows, cols, x, xOff, n, y, yOff, false);
    }

    int specula_gemm(MemorySegment stream, int type, MemorySegment w, long wOff, long rows, long cols, MemorySegment x, long xOff,
                     int n, MemorySegment y, long yOff) {
        if (n < 1) throw invalid("gemm needs at least 1 row, got " + n);
        return product(stream, type, w, wOff, rows, cols, x, xOff, n, y, yOff, true);
    }

    private int product(MemorySegment stream, int type, MemorySegment w, long wOff, long rows, long cols, MemorySegment x, long xOff,
                        int n, MemorySegment y, long yOff, boolean halfInputs) {
        TensorFormat f = format(type);
        if (cols % f.type().blockSize != 0) throw invalid(cols + " columns is not a whole number of " + f.type() + " blocks");
        MemorySegment wm = range(w, wOff, f.type().bytesFor(rows * cols), "weights");
        MemorySegment xm = range(x, xOff, 4L * n * cols, "x"), ym = range(y, yOff, 4L * n * rows, "y");
        int c = Math.toIntExact(cols), r = Math.toIntExact(rows);
        queue(stream, () -> {
            float[] xs = floats(xm), out = new float[n * r], row = new float[c];
            if (halfInputs) for (int i = 0; i < xs.length; i++) xs[i] = half(xs[i]);
            // Plain loops in a fixed order: the same inputs give the same bits, compiled or not
            // (the Vector API's dot products sum in another order once the JIT compiles them).
            for (int j = 0; j < r; j++) {
                f.dequantize(wm, (long) j * c, row, 0, c);
                if (halfInputs) for (int k = 0; k < c; k++) row[k] = half(row[k]);
                for (int i = 0; i < n; i++) {
                    float s = 0;
                    for (int k = 0; k < c; k++) s += row[k] * xs[i * c + k];
                    out[i * r + j] = s;
                }
            }
            store(out, ym);
        });
        return OK;
    }

    int specula_rms_norm(MemorySegment stream, MemorySegment x, long xOff, MemorySegment weight, long wOff, MemorySegment y, long yOff,
                         int nRows, int dim, float eps) {
        MemorySegment xm = range(x, xOff, 4L * nRows * dim, "x"), wm = range(weight, wOff, 4L * dim, "weight");
        MemorySegment ym = range(y, yOff, 4L * nRows * dim, "y");
        queue(stream, () -> {
            float[] v = floats(xm), g = floats(wm);
            for (int r = 0; r < nRows; r++) {
                double ss = 0;
                for (int i = 0; i < dim; i++) ss += (double) v[r * dim + i] * v[r * dim + i];
                float scale = (float) (1 / Math.sqrt(ss / dim + eps));
                for (int i = 0; i < dim; i++) v[r * dim + i] = v[r * dim + i] * scale * g[i];
            }
            store(v, ym);
        });
        return OK;
    }

    int specula_add(MemorySegment stream, MemorySegment a, long aOff, MemorySegment b, long bOff, MemorySegment y, long yOff, long n) {
        MemorySegment am = range(a, aOff, 4 * n, "a"), bm = range(b, bOff, 4 * n, "b"), ym = range(y, yOff, 4 * n, "y");
        queue(stream, () -> {
            float[] u = floats(am), v = floats(bm);
            for (int i = 0; i < u.length; i++) u[i] += v[i];
            store(u, ym);
        });
        return OK;
    }

    int specula_swiglu(MemorySegment stream, MemorySegment gate, long gOff, MemorySegment up, long uOff, MemorySegment y, long yOff, long n) {
        MemorySegment gm = range(gate, gOff, 4 * n, "gate"), um = range(up, uOff, 4 * n, "up"), ym = range(y, yOff, 4 * n, "y");
        queue(stream, () -> {
            float[] g = floats(gm), u = floats(um);
            for (int i = 0; i < g.length; i++) g[i] = (float) (g[i] / (1 + StrictMath.exp(-g[i]))) * u[i];
            store(g, ym);
        });
        return OK;
    }

    int specula_softmax(MemorySegment stream, MemorySegment x, long xOff, int nRows, int nCols, float scale) {
        MemorySegment m = range(x, xOff, 4L * nRows * nCols, "x");
        queue(stream, () -> {
            float[] v = floats(m);
            for (int r = 0; r < nRows; r++) softmax(v, r * nCols, nCols, scale);
            store(v, m);
        });
        return OK;
    }

    private static void softmax(float[] v, int off, int n, float scale) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, v[off + i] * scale);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += v[off + i] = (float) StrictMath.exp(v[off + i] * scale - max);
        for (int i = 0; i < n; i++) v[off + i] = (float) (v[off + i] / sum);
    }

    int specula_embedding(MemorySegment stream, int type, MemorySegment table, long tOff, long rows, int dim, MemorySegment ids, long idsOff,
                          int n, MemorySegment y, long yOff) {
        TensorFormat f = format(type);
        MemorySegment tm = range(table, tOff, f.type().bytesFor(rows * dim), "table");
        MemorySegment im = range(ids, idsOff, 4L * n, "ids"), ym = range(y, yOff, 4L * n * dim, "y");
        queue(stream, () -> {
            float[] out = new float[n * dim];
            for (int i = 0; i < n; i++) {
                int id = im.get(ValueLayout.JAVA_INT, 4L * i);
                if (id < 0 || id >= rows) stickyErrors |= ERROR_BAD_ID;
                else f.dequantize(tm, (long) id * dim, out, i * dim, dim);
            }
            store(out, ym);
        });
        return OK;
    }

    private record Rope(int nTokens, int nHeads, int headDim, int ropeDim, int mode, float base, float freqScale, float extFactor,
                        float attnFactor, float betaFast, float betaSlow, int nCtxOrig) {
        static Rope read(MemorySegment p) {
            MemorySegment m = p.reinterpret(CudaLibrary.ROPE_PARAMS.byteSize());
            return new Rope(m.get(ValueLayout.JAVA_INT, 0), m.get(ValueLayout.JAVA_INT, 4), m.get(ValueLayout.JAVA_INT, 8),
                    m.get(ValueLayout.JAVA_INT, 12), m.get(ValueLayout.JAVA_INT, 16), m.get(ValueLayout.JAVA_FLOAT, 20),
                    m.get(ValueLayout.JAVA_FLOAT, 24), m.get(ValueLayout.JAVA_FLOAT, 28), m.get(ValueLayout.JAVA_FLOAT, 32),
                    m.get(ValueLayout.JAVA_FLOAT, 36), m.get(ValueLayout.JAVA_FLOAT, 40), m.get(ValueLayout.JAVA_INT, 44));
        }

        /** ggml's YaRN correction range in dimension pairs, from the original context. */
        float[] corrDims() {
            double lo = Math.floor(ropeDim * Math.log(nCtxOrig / (betaFast * 2 * Math.PI)) / (2 * Math.log(base)));
            double hi = Math.ceil(ropeDim * Math.log(nCtxOrig / (betaSlow * 2 * Math.PI)) / (2 * Math.log(base)));
            return new float[] {(float) Math.max(0, lo), (float) Math.min(ropeDim - 1, hi)};
        }
    }

    int specula_rope(MemorySegment stream, MemorySegment params, MemorySegment x, long xOff, MemorySegment positions, long posOff,
                     MemorySegment freqFactors, long ffOff) {
        Rope p = Rope.read(params);
        if (p.ropeDim > p.headDim || p.ropeDim % 2 != 0) throw invalid("rope_dim " + p.ropeDim + " for head_dim " + p.headDim);
        if (p.mode != 0 && p.mode != 2) throw invalid("rope mode " + p.mode);
        MemorySegment xm = range(x, xOff, 4L * p.nTokens * p.nHeads * p.headDim, "x");
        MemorySegment pm = range(positions, posOff, 4L * p.nTokens, "positions");
        MemorySegment fm = freqFactors.address() == 0 ? null : range(freqFactors, ffOff, 4L * (p.ropeDim / 2), "freq_factors");
        queue(stream, () -> {
            float[] v = floats(xm), ff = fm == null ? null : floats(fm);
            int half = p.ropeDim / 2;
            float[] corr = p.corrDims();
            for (int t = 0; t < p.nTokens; t++) {
                int pos = pm.get(ValueLayout.JAVA_INT, 4L * t);
                for (int i = 0; i < half; i++) {
                    double extrap = pos * StrictMath.pow(p.base, -2.0 * i / p.ropeDim) / (ff == null ? 1 : ff[i]);
                    double interp = p.freqScale * extrap, theta = interp, mscale = p.attnFactor;
                    if (p.extFactor != 0) {
                        double y = (i - corr[0]) / Math.max(0.001, corr[1] - corr[0]);
                        double mix = (1 - Math.min(1, Math.max(0, y))) * p.extFactor;
                        theta = interp * (1 - mix) + extrap * mix;
                        mscale *= 1 + 0.1 * StrictMath.log(1 / p.freqScale);
                    }
                    float angle = (float) theta;
                    float cos = (float) (StrictMath.cos(angle) * mscale), sin = (float) (StrictMath.sin(angle) * mscale);
                    for (int h = 0; h < p.nHeads; h++) {
                        int base = (t * p.nHeads + h) * p.headDim;
                        int a = base + (p.mode == 2 ? i : 2 * i), b = base + (p.mode == 2 ? i + half : 2 * i + 1);
                        float x0 = v[a], x1 = v[b];
                        v[a] = x0 * cos - x1 * sin;
                        v[b] = x0 * sin + x1 * cos;
                    }
                }
            }
            store(v, xm);
        });
        return OK;
    }

    int specula_kv_store(MemorySegment stream, MemorySegment k, long kOff, MemorySegment v, long vOff, int nTokens, int kvDim,
                         MemorySegment cacheK, long ckOff, MemorySegment cacheV, long cvOff, int ctxSize, MemorySegment positions, long posOff) {
        MemorySegment km = range(k, kOff, 4L * nTokens * kvDim, "k"), vm = range(v, vOff, 4L * nTokens * kvDim, "v");
        MemorySegment ck = range(cacheK, ckOff, 2L * ctxSize * kvDim, "cache_k"), cv = range(cacheV, cvOff, 2L * ctxSize * kvDim, "cache_v");
        MemorySegment pm = range(positions, posOff, 4L * nTokens, "positions");
        queue(stream, () -> {
            for (int t = 0; t < nTokens; t++) {
                int pos = pm.get(ValueLayout.JAVA_INT, 4L * t);
                if (pos < 0 || pos >= ctxSize) {
                    stickyErrors |= ERROR_BAD_POSITION;
                    continue;
                }
                for (int i = 0; i < kvDim; i++) {
                    long src = 4L * (t * kvDim + i), dst = 2L * ((long) pos * kvDim + i);
                    ck.set(ValueLayout.JAVA_SHORT, dst, Float.floatToFloat16(km.get(ValueLayout.JAVA_FLOAT, src)));
                    cv.set(ValueLayout.JAVA_SHORT, dst, Float.floatToFloat16(vm.get(ValueLayout.JAVA_FLOAT, src)));
                }
            }
        });
        return OK;
    }

    private record Attn(int nTokens, int nHeads, int nKvHeads, int headDim, int ctxSize, float scale) {
        static Attn read(MemorySegment p) {
            MemorySegment m = p.reinterpret(CudaLibrary.ATTENTION_PARAMS.byteSize());
            Attn a = new Attn(m.get(ValueLayout.JAVA_INT, 0), m.get(ValueLayout.JAVA_INT, 4), m.get(ValueLayout.JAVA_INT, 8),
                    m.get(ValueLayout.JAVA_INT, 12), m.get(ValueLayout.JAVA_INT, 16), m.get(ValueLayout.JAVA_FLOAT, 20));
            if (a.nKvHeads <= 0 || a.nHeads % a.nKvHeads != 0) throw invalid("n_heads " + a.nHeads + " is not a multiple of n_kv_heads " + a.nKvHeads);
            return a;
        }
    }

    int specula_flash_attention(MemorySegment stream, MemorySegment params, MemorySegment q, long qOff, MemorySegment cacheK, long ckOff,
                                MemorySegment cacheV, long cvOff, MemorySegment positions, long posOff, MemorySegment out, long outOff) {
        Attn p = Attn.read(params);
        if (!Set.of(64, 80, 96, 128).contains(p.headDim)) throw invalid("flash attention takes head_dim 64, 80, 96 or 128, not " + p.headDim);
        return attention(stream, p, q, qOff, cacheK, ckOff, cacheV, cvOff, positions, posOff, null, out, outOff);
    }

    long specula_attention_plain_scratch(MemorySegment params) {
        Attn p = Attn.read(params);
        return 4L * p.nTokens * p.nHeads * p.ctxSize;
    }

    int specula_attention_plain(MemorySegment stream, MemorySegment params, MemorySegment q, long qOff, MemorySegment cacheK, long ckOff,
                                MemorySegment cacheV, long cvOff, MemorySegment positions, long posOff, MemorySegment scratch, long scratchOff,
                                MemorySegment out, long outOff) {
        Attn p = Attn.read(params);
        MemorySegment sm = range(scratch, scratchOff, specula_attention_plain_scratch(params), "scratch");
        return attention(stream, p, q, qOff, cacheK, ckOff, cacheV, cvOff, positions, posOff, sm, out, outOff);
    }

    /** Causal GQA attention over the F16 caches; scores go through {@code scratch} when given (plain). */
    private int attention(MemorySegment stream, Attn p, MemorySegment q, long qOff, MemorySegment cacheK, long ckOff, MemorySegment cacheV,
                          long cvOff, MemorySegment positions, long posOff, MemorySegment scratch, MemorySegment out, long outOff) {
        int hd = p.headDim, kvDim = p.nKvHeads * hd, group = p.nHeads / p.nKvHeads;
        MemorySegment qm = range(q, qOff, 4L * p.nTokens * p.nHeads * hd, "q"), om = range(out, outOff, 4L * p.nTokens * p.nHeads * hd, "out");
        MemorySegment ck = range(cacheK, ckOff, 2L * p.ctxSize * kvDim, "cache_k"), cv = range(cacheV, cvOff, 2L * p.ctxSize * kvDim, "cache_v");
        MemorySegment pm = range(positions, posOff, 4L * p.nTokens, "positions");
        queue(stream, () -> {
            float[] qs = floats(qm), o = new float[qs.length], s = new float[p.ctxSize];
            for (int t = 0; t < p.nTokens; t++) {
                int pos = pm.get(ValueLayout.JAVA_INT, 4L * t);
                if (pos < 0 || pos >= p.ctxSize) {
                    stickyErrors |= ERROR_BAD_POSITION;
                    continue;
                }
                for (int h = 0; h < p.nHeads; h++) {
                    int qb = (t * p.nHeads + h) * hd, kb = (h / group) * hd;
                    for (int j = 0; j <= pos; j++) {
                        float dot = 0;
                        for (int i = 0; i < hd; i++) dot += half(qs[qb + i]) * Float.float16ToFloat(ck.get(ValueLayout.JAVA_SHORT, 2L * (j * kvDim + kb + i)));
                        s[j] = dot;
                    }
                    if (scratch != null) {
                        long at = 4L * ((long) t * p.nHeads + h) * p.ctxSize;
                        MemorySegment.copy(s, 0, scratch, ValueLayout.JAVA_FLOAT, at, pos + 1);
                        MemorySegment.copy(scratch, ValueLayout.JAVA_FLOAT, at, s, 0, pos + 1);
                    }
                    softmax(s, 0, pos + 1, p.scale);
                    for (int j = 0; j <= pos; j++) {
                        for (int i = 0; i < hd; i++) o[qb + i] += s[j] * Float.float16ToFloat(cv.get(ValueLayout.JAVA_SHORT, 2L * (j * kvDim + kb + i)));
                    }
                }
            }
            store(o, om);
        });
        return OK;
    }

    // ---- mixture of experts (ABI 2.1) -------------------------------------------------------------

    /** ggml's clamp of the chosen weights' sum (F16's smallest normal), as the kernel has it. */
    private static final float MIN_WEIGHT_SUM = 6.103515625e-5f;

    int specula_moe_route(MemorySegment stream, MemorySegment params, MemorySegment logits, long lOff, MemorySegment ids, long idsOff,
                          MemorySegment weights, long wOff) {
        MemorySegment p = params.reinterpret(CudaLibrary.MOE_ROUTE_PARAMS.byteSize());
        int nTokens = p.get(ValueLayout.JAVA_INT, 0), n = p.get(ValueLayout.JAVA_INT, 4), k = p.get(ValueLayout.JAVA_INT, 8);
        int normalize = p.get(ValueLayout.JAVA_INT, 12);
        if (nTokens < 1 || n < 1 || n > 1024 || k < 1 || k > n || k > 64 || (normalize & ~1) != 0) {
            throw invalid("specula_moe_route: n_tokens " + nTokens + ", n_experts " + n + " (1 .. 1024), k " + k + ", normalize " + normalize);
        }
        MemorySegment lm = range(logits, lOff, 4L * nTokens * n, "logits");
        MemorySegment im = range(ids, idsOff, 4L * nTokens * k, "ids"), wm = range(weights, wOff, 4L * nTokens * k, "weights");
        queue(stream, () -> {
            float[] l = floats(lm), w = new float[nTokens * k];
            int[] id = new int[nTokens * k];
            for (int t = 0; t < nTokens; t++) {
                float max = Float.NEGATIVE_INFINITY;
                for (int e = 0; e < n; e++) max = Math.max(max, l[t * n + e]);
                float[] prob = new float[n];
                double sum = 0;
                for (int e = 0; e < n; e++) sum += prob[e] = (float) Math.exp(l[t * n + e] - max);
                float inv = (float) (1.0 / sum);
                for (int e = 0; e < n; e++) prob[e] *= inv;
                boolean[] taken = new boolean[n];
                for (int s = 0; s < k; s++) {
                    int best = -1;
                    for (int e = 0; e < n; e++) if (!taken[e] && !Float.isNaN(prob[e]) && (best < 0 || prob[e] > prob[best])) best = e;
                    if (best < 0) {
                        stickyErrors |= ERROR_BAD_EXPERT;
                        continue; // id 0, weight 0, as the kernel writes
                    }
                    taken[best] = true;
                    id[t * k + s] = best;
                    w[t * k + s] = prob[best];
                }
                if (normalize == 1) {
                    float total = 0;
                    for (int s = 0; s < k; s++) total += w[t * k + s];
                    total = Math.max(total, MIN_WEIGHT_SUM);
                    for (int s = 0; s < k; s++) w[t * k + s] /= total;
                }
            }
            MemorySegment.copy(id, 0, im, ValueLayout.JAVA_INT, 0, id.length);
            store(w, wm);
        });
        return OK;
    }

    int specula_gemv_experts(MemorySegment stream, int type, MemorySegment w, long wOff, int experts, long rows, long cols, MemorySegment x,
                             long xOff, int xPerSlot, MemorySegment ids, long idsOff, int nTokens, int k, MemorySegment y, long yOff) {
        TensorFormat f = format(type);
        if (cols % f.type().blockSize != 0) throw invalid(cols + " columns is not a whole number of " + f.type() + " blocks");
        if (experts < 1 || nTokens < 1 || k < 1 || k > experts || (xPerSlot & ~1) != 0) {
            throw invalid("specula_gemv_experts: " + experts + " experts, " + nTokens + " tokens, k " + k + ", x_per_slot " + xPerSlot);
        }
        int pairs = nTokens * k, c = Math.toIntExact(cols), r = Math.toIntExact(rows);
        long matrixBytes = f.type().bytesFor(rows * cols);
        MemorySegment wm = range(w, wOff, experts * matrixBytes, "weights");
        MemorySegment xm = range(x, xOff, 4L * (xPerSlot == 1 ? pairs : nTokens) * cols, "x");
        MemorySegment im = range(ids, idsOff, 4L * pairs, "ids"), ym = range(y, yOff, 4L * pairs * rows, "y");
        queue(stream, () -> {
            float[] xs = floats(xm), out = new float[pairs * r], row = new float[c];
            for (int p = 0; p < pairs; p++) {
                int e = im.get(ValueLayout.JAVA_INT, 4L * p);
                if (e < 0 || e >= experts) {
                    stickyErrors |= ERROR_BAD_EXPERT;
                    continue; // a zero row
                }
                int xRow = (xPerSlot == 1 ? p : p / k) * c;
                MemorySegment matrix = wm.asSlice(e * matrixBytes, matrixBytes);
                for (int j = 0; j < r; j++) {
                    f.dequantize(matrix, (long) j * c, row, 0, c);
                    float s = 0;
                    for (int q = 0; q < c; q++) s += row[q] * xs[xRow + q];
                    out[p * r + j] = s;
                }
            }
            store(out, ym);
        });
        return OK;
    }

    int specula_moe_combine(MemorySegment stream, MemorySegment x, long xOff, MemorySegment weights, long wOff, int nTokens, int k, int dim,
                            MemorySegment shared, long sharedOff, MemorySegment sharedGate, long gateOff, MemorySegment y, long yOff) {
        if (nTokens < 1 || k < 1 || dim < 1) throw invalid("specula_moe_combine: " + nTokens + " tokens, k " + k + ", dim " + dim);
        boolean hasShared = shared.address() != 0;
        if (hasShared != (sharedGate.address() != 0)) throw invalid("specula_moe_combine: shared and shared_gate come together (one is NULL)");
        MemorySegment xm = range(x, xOff, 4L * nTokens * k * dim, "x"), wm = range(weights, wOff, 4L * nTokens * k, "weights");
        MemorySegment ym = range(y, yOff, 4L * nTokens * dim, "y");
        MemorySegment sm = hasShared ? range(shared, sharedOff, 4L * nTokens * dim, "shared") : null;
        MemorySegment gm = hasShared ? range(sharedGate, gateOff, 4L * nTokens, "shared_gate") : null;
        queue(stream, () -> {
            float[] xs = floats(xm), ws = floats(wm), out = new float[nTokens * dim];
            float[] sh = hasShared ? floats(sm) : null, g = hasShared ? floats(gm) : null;
            for (int t = 0; t < nTokens; t++) {
                for (int i = 0; i < dim; i++) {
                    float o = xs[t * k * dim + i] * ws[t * k];
                    for (int s = 1; s < k; s++) o += xs[(t * k + s) * dim + i] * ws[t * k + s];
                    out[t * dim + i] = o;
                }
                if (hasShared) {
                    float gt = g[t], sigmoid = gt == 0f ? 0.5f : gt / (1f + (float) Math.exp(-gt)) / gt;
                    for (int i = 0; i < dim; i++) out[t * dim + i] += sh[t * dim + i] * sigmoid;
                }
            }
            store(out, ym);
        });
        return OK;
    }

    int specula_kernel_errors(int device, MemorySegment errors) {
        errors.reinterpret(4).set(ValueLayout.JAVA_INT, 0, stickyErrors);
        stickyErrors = 0;
        return OK;
    }

    // ---- graphs ----------------------------------------------------------------------------------

    int specula_graph_begin(MemorySegment stream) {
        Stream s = get(stream, Stream.class, "stream");
        if (s.capture != null) throw invalid("the stream is already recording");
        s.capture = new ArrayList<>();
        return OK;
    }

    int specula_graph_end(MemorySegment stream, MemorySegment graph) {
        Stream s = get(stream, Stream.class, "stream");
        if (s.capture == null) throw invalid("the stream is not recording");
        List<Runnable> steps = s.capture;
        s.capture = null;
        out(graph, register(new Graph(List.copyOf(steps))));
        return OK;
    }

    int specula_graph_launch(MemorySegment graph, MemorySegment stream) {
        Graph g = get(graph, Graph.class, "graph");
        for (Runnable r : g.steps) queue(stream, r);
        return OK;
    }

    int specula_graph_destroy(MemorySegment graph) {
        if (graph.address() != 0) release(graph);
        return OK;
    }
}
