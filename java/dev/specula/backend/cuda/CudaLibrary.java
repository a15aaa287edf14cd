package dev.specula.backend.cuda;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * FFM bindings to a native backend library, written to the shape jextract generates from
 * {@code native/include/specula.h} (jextract is not installed on the team's machines; a test
 * checks that every function the header declares is bound here, with its name). Every backend
 * implements the same ABI, so this one binding serves libspecula_cuda (NVIDIA, Jetson) and
 * libspecula_metal (Apple Silicon); {@link #platformBackend} picks the one this machine uses.
 *
 * <p>The library is looked for in {@code SPECULA_NATIVE_PATH} (a file or a folder), next to the
 * running jar, and in {@code build/<backend>/} of the working directory; {@link #load} says where it
 * looked when it finds none, and the CPU backend runs regardless.
 */
public final class CudaLibrary {
    /** Overrides {@link #platformBackend} ("cuda" or "metal"), e.g. {@code -Dspecula.backend=cuda}. */
    public static final String BACKEND_PROPERTY = "specula.backend";
    /** The library file of this platform's backend (libspecula_cuda.so, libspecula_metal.dylib, ...). */
    public static final String FILE_NAME = fileName(platformBackend());
    /** The ABI version this binding was written for (specula.h's SPECULA_ABI_VERSION). */
    public static final int ABI_VERSION = 201;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final AddressLayout PTR = ValueLayout.ADDRESS;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;

    /** specula_device_info. */
    public static final StructLayout DEVICE_INFO = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE).withName("name"),
            U64.withName("total_memory"), U64.withName("free_memory"),
            I32.withName("compute_major"), I32.withName("compute_minor"), I32.withName("integrated"),
            I32.withName("multiprocessors"), I32.withName("can_map_host_memory"), I32.withName("reserved"));

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT;

    /** specula_rope_params. */
    public static final StructLayout ROPE_PARAMS = MemoryLayout.structLayout(
            I32.withName("n_tokens"), I32.withName("n_heads"), I32.withName("head_dim"), I32.withName("rope_dim"),
            I32.withName("mode"), F32.withName("freq_base"), F32.withName("freq_scale"), F32.withName("ext_factor"),
            F32.withName("attn_factor"), F32.withName("beta_fast"), F32.withName("beta_slow"), I32.withName("n_ctx_orig"));

    /** specula_attention_params. */
    public static final StructLayout ATTENTION_PARAMS = MemoryLayout.structLayout(
            I32.withName("n_tokens"), I32.withName("n_heads"), I32.withName("n_kv_heads"), I32.withName("head_dim"),
            I32.withName("ctx_size"), F32.withName("scale"));

    /** specula_moe_route_params. */
    public static final StructLayout MOE_ROUTE_PARAMS = MemoryLayout.structLayout(
            I32.withName("n_tokens"), I32.withName("n_experts"), I32.withName("k"), I32.withName("normalize"));

    /** Every function of specula.h with its C signature, in header order. */
    static final Map<String, FunctionDescriptor> FUNCTIONS = new LinkedHashMap<>();

    static {
        FUNCTIONS.put("specula_abi_version", FunctionDescriptor.of(I32));
        FUNCTIONS.put("specula_last_error", FunctionDescriptor.of(PTR));
        FUNCTIONS.put("specula_status_name", FunctionDescriptor.of(PTR, I32));
        FUNCTIONS.put("specula_device_count", FunctionDescriptor.of(I32, PTR));
        FUNCTIONS.put("specula_device_get_info", FunctionDescriptor.of(I32, I32, PTR));
        FUNCTIONS.put("specula_stream_create", FunctionDescriptor.of(I32, I32, PTR));
        FUNCTIONS.put("specula_stream_synchronize", FunctionDescriptor.of(I32, PTR));
        FUNCTIONS.put("specula_stream_destroy", FunctionDescriptor.of(I32, PTR));
        FUNCTIONS.put("specula_buffer_alloc", FunctionDescriptor.of(I32, I32, U64, PTR));
        FUNCTIONS.put("specula_buffer_register_host", FunctionDescriptor.of(I32, I32, PTR, U64, PTR));
        FUNCTIONS.put("specula_buffer_free", FunctionDescriptor.of(I32, PTR));
        FUNCTIONS.put("specula_buffer_size", FunctionDescriptor.of(U64, PTR));
        FUNCTIONS.put("specula_buffer_upload", FunctionDescriptor.of(I32, PTR, U64, PTR, U64, PTR));
        FUNCTIONS.put("specula_buffer_download", FunctionDescriptor.of(I32, PTR, U64, PTR, U64, PTR));
        FUNCTIONS.put("specula_buffer_copy", FunctionDescriptor.of(I32, PTR, U64, PTR, U64, U64, PTR));
        FUNCTIONS.put("specula_buffer_fill", FunctionDescriptor.of(I32, PTR, U64, U64, I32, PTR));
        FUNCTIONS.put("specula_event_create", FunctionDescriptor.of(I32, I32, PTR));
        FUNCTIONS.put("specula_event_record", FunctionDescriptor.of(I32, PTR, PTR));
        FUNCTIONS.put("specula_event_elapsed", FunctionDescriptor.of(I32, PTR, PTR, PTR));
        FUNCTIONS.put("specula_event_destroy", FunctionDescriptor.of(I32, PTR));
        FUNCTIONS.put("specula_type_supported", FunctionDescriptor.of(I32, I32));
        FUNCTIONS.put("specula_gemv", FunctionDescriptor.of(I32, PTR, I32, PTR, U64, U64, U64, PTR, U64, I32, PTR, U64));
        FUNCTIONS.put("specula_gemm", FunctionDescriptor.of(I32, PTR, I32, PTR, U64, U64, U64, PTR, U64, I32, PTR, U64));
        FUNCTIONS.put("specula_rms_norm", FunctionDescriptor.of(I32, PTR, PTR, U64, PTR, U64, PTR, U64, I32, I32, F32));
        FUNCTIONS.put("specula_add", FunctionDescriptor.of(I32, PTR, PTR, U64, PTR, U64, PTR, U64, U64));
        FUNCTIONS.put("specula_swiglu", FunctionDescriptor.of(I32, PTR, PTR, U64, PTR, U64, PTR, U64, U64));
        FUNCTIONS.put("specula_softmax", FunctionDescriptor.of(I32, PTR, PTR, U64, I32, I32, F32));
        FUNCTIONS.put("specula_embedding", FunctionDescriptor.of(I32, PTR, I32, PTR, U64, U64, I32, PTR, U64, I32, PTR, U64));
        FUNCTIONS.put("specula_rope", FunctionDescriptor.of(I32, PTR, PTR, PTR, U64, PTR, U64, PTR, U64));
        FUNCTIONS.put("specula_kv_store", FunctionDescriptor.of(I32, PTR, PTR, U64, PTR, U64, I32, I32, PTR, U64, PTR, U64, I32, PTR, U64));
        FUNCTIONS.put("specula_flash_attention", FunctionDescriptor.of(I32, PTR, PTR, PTR, U64, PTR, U64, PTR, U64, PTR, U64, PTR, U64));
        FUNCTIONS.put("specula_attention_plain_scratch", FunctionDescriptor.of(U64, PTR));
        FUNCTIONS.put("specula_attention_plain", FunctionDescriptor.of(I32, PTR, PTR, PTR, U64, PTR, U64, PTR, U64, PTR, U64, PTR, U64, PTR, U64));
        FUNCTIONS.put("specula_kernel_errors", FunctionDescriptor.of(I32, I32, PTR));
        FUNCTIONS.put("specula_moe_route", FunctionDescriptor.of(I32, PTR, PTR, PTR, U64, PTR, U64, PTR, U64));
        FUNCTIONS.put("specula_gemv_experts", FunctionDescriptor.of(I32, PTR, I32, PTR, U64, I32, U64, U64, PTR, U64, I32, PTR, U64, I32, I32, PTR, U64));
        FUNCTIONS.put("specula_moe_combine", FunctionDescriptor.of(I32, PTR, PTR, U64, PTR, U64, I32, I32, I32, PTR, U64, PTR, U64, PTR, U64));
        FUNCTIONS.put("specula_graph_begin", FunctionDescriptor.of(I32, PTR));
        FUNCTIONS.put("specula_graph_end", FunctionDescriptor.of(I32, PTR, PTR));
        FUNCTIONS.put("specula_graph_launch", FunctionDescriptor.of(I32, PTR, PTR));
        FUNCTIONS.put("specula_graph_destroy", FunctionDescriptor.of(I32, PTR));
    }

    private final Path path;
    private final String backend;
    private final Map<String, MethodHandle> handles = new LinkedHashMap<>();

    private CudaLibrary(Path path, String backend, SymbolLookup lookup) {
        this.path = path;
        this.backend = backend;
        for (Map.Entry<String, FunctionDescriptor> f : FUNCTIONS.entrySet()) {
            MemorySegment symbol = lookup.find(f.getKey())
                    .orElseThrow(() -> new IllegalStateException(path + ": no symbol " + f.getKey() + " (a library older than this binding?)"));
            handles.put(f.getKey(), LINKER.downcallHandle(symbol, f.getValue()));
        }
    }

    /**
     * Binds the functions {@code lookup} finds (a loaded library, or a stand-in implementing the
     * ABI, as the tests' host emulation does); {@code path} names it in messages.
     */
    static CudaLibrary bind(Path path, String backend, SymbolLookup lookup) {
        return new CudaLibrary(path, backend, lookup);
    }

    /** The backend this machine uses: {@value #BACKEND_PROPERTY} if set, else {@link #backendFor} this OS and architecture. */
    public static String platformBackend() {
        String forced = System.getProperty(BACKEND_PROPERTY);
        if (forced != null && !forced.isBlank()) return forced;
        return backendFor(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    /** "metal" on macOS on Apple Silicon (os.arch aarch64), else "cuda" (x86-64 and aarch64 Linux: datacenter GPUs, Jetson). */
    public static String backendFor(String osName, String osArch) {
        boolean mac = osName.startsWith("Mac") || osName.startsWith("Darwin");
        boolean arm = osArch.equals("aarch64") || osArch.equals("arm64");
        return mac && arm ? "metal" : "cuda";
    }

    /** The file name of a backend's library on this OS: libspecula_{backend}.so / .dylib, specula_{backend}.dll. */
    public static String fileName(String backend) {
        return System.mapLibraryName("specula_" + backend);
    }

    /** Where this platform's library is looked for, in order. */
    public static List<Path> candidates() {
        return candidates(platformBackend());
    }

    /** Where a backend's library is looked for, in order. */
    public static List<Path> candidates(String backend) {
        String file = fileName(backend);
        List<Path> out = new ArrayList<>();
        String env = System.getenv("SPECULA_NATIVE_PATH");
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env);
            out.add(Files.isDirectory(p) ? p.resolve(file) : p);
        }
        try {
            Path jar = Path.of(CudaLibrary.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(jar)) out.add(jar.getParent().resolve(file));
        } catch (Exception ignored) {
            // no code source (unusual class loaders): skip that place
        }
        out.add(Path.of("build", backend, file).toAbsolutePath());
        return out;
    }

    /** This platform's library (see {@link #platformBackend}), or empty when none of {@link #candidates} exists. */
    public static Optional<CudaLibrary> load() {
        return load(platformBackend());
    }

    /** A backend's library, or empty when none of its candidates exists. A file that exists but does not load is an error. */
    public static Optional<CudaLibrary> load(String backend) {
        for (Path p : candidates(backend)) {
            if (Files.isRegularFile(p)) {
                CudaLibrary lib = new CudaLibrary(p, backend, SymbolLookup.libraryLookup(p, Arena.global()));
                int abi = lib.abiVersion();
                if (abi / 100 != ABI_VERSION / 100) {
                    throw new IllegalStateException(p + ": ABI version " + abi + ", this program needs " + ABI_VERSION);
                }
                return Optional.of(lib);
            }
        }
        return Optional.empty();
    }

    public Path path() {
        return path;
    }

    /** The backend this library implements ("cuda" or "metal"). */
    public String backend() {
        return backend;
    }

    MethodHandle handle(String name) {
        return handles.get(name);
    }

    public int abiVersion() {
        try {
            return (int) handle("specula_abi_version").invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The message of the last failed call on this thread ("" when none). */
    public String lastError() {
        try {
            MemorySegment s = (MemorySegment) handle("specula_last_error").invokeExact();
            return s.reinterpret(Integer.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public String statusName(int status) {
        try {
            MemorySegment s = (MemorySegment) handle("specula_status_name").invokeExact(status);
            return s.reinterpret(Integer.MAX_VALUE).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A device as the library reports it. */
    public record Device(int index, String name, long totalMemory, long freeMemory, int computeMajor, int computeMinor,
                         boolean integrated, int multiprocessors, boolean canMapHostMemory) {}

    /** The number of devices (0 without a GPU or driver; {@link #lastError} then says why). */
    public int deviceCount() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(I32);
            check((int) handle("specula_device_count").invokeExact(count), "specula_device_count");
            return count.get(I32, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public Device device(int index) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = a.allocate(DEVICE_INFO);
            check((int) handle("specula_device_get_info").invokeExact(index, info), "specula_device_get_info");
            String name = info.getString(0, StandardCharsets.UTF_8);
            long o = DEVICE_INFO.byteOffset(MemoryLayout.PathElement.groupElement("total_memory"));
            return new Device(index, name, info.get(U64, o), info.get(U64, o + 8), info.get(I32, o + 16), info.get(I32, o + 20),
                    info.get(I32, o + 24) != 0, info.get(I32, o + 28), info.get(I32, o + 32) != 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public List<Device> devices() {
        List<Device> out = new ArrayList<>();
        for (int i = 0, n = deviceCount(); i < n; i++) out.add(device(i));
        return out;
    }

    /** Device memory: a handle to free with {@link Buffer#close}. */
    public Buffer allocate(int device, long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            check((int) handle("specula_buffer_alloc").invokeExact(device, bytes, out), "specula_buffer_alloc");
            return new Buffer(this, out.get(PTR, 0), bytes);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Host memory registered for zero-copy device reads (the segment must stay alive while the buffer does). */
    public Buffer registerHost(int device, MemorySegment host) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            check((int) handle("specula_buffer_register_host").invokeExact(device, host, host.byteSize(), out), "specula_buffer_register_host");
            return new Buffer(this, out.get(PTR, 0), host.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- Streams, events, graphs -------------------------------------------------------------

    public Stream stream(int device) {
        return new Stream(this, device, create("specula_stream_create", device));
    }

    public Event event(int device) {
        return new Event(this, create("specula_event_create", device));
    }

    private MemorySegment create(String function, int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(PTR);
            check((int) handle(function).invokeExact(device, out), function);
            return out.get(PTR, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Calls a {@code int32_t f(handle)} function of the ABI and checks its status. */
    void call(String function, MemorySegment handle) {
        try {
            check((int) handle(function).invokeExact(handle), function);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A queue of work on one device (specula_stream). */
    public static final class Stream implements AutoCloseable {
        final CudaLibrary lib;
        public final int device;
        MemorySegment handle;

        Stream(CudaLibrary lib, int device, MemorySegment handle) {
            this.lib = lib;
            this.device = device;
            this.handle = handle;
        }

        public void synchronize() {
            lib.call("specula_stream_synchronize", handle);
        }

        /** Starts recording a graph: what is queued from now on is captured, not run. */
        public void beginGraph() {
            lib.call("specula_graph_begin", handle);
        }

        /** Ends recording and returns the graph to replay. */
        public Graph endGraph() {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(PTR);
                lib.check((int) lib.handle("specula_graph_end").invokeExact(handle, out), "specula_graph_end");
                return new Graph(lib, out.get(PTR, 0));
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        public void close() {
            if (handle == null) return;
            MemorySegment h = handle;
            handle = null;
            lib.call("specula_stream_destroy", h);
        }
    }

    /** A recorded step (specula_graph). */
    public static final class Graph implements AutoCloseable {
        private final CudaLibrary lib;
        private MemorySegment handle;

        Graph(CudaLibrary lib, MemorySegment handle) {
            this.lib = lib;
            this.handle = handle;
        }

        public void launch(Stream stream) {
            try {
                lib.check((int) lib.handle("specula_graph_launch").invokeExact(handle, stream.handle), "specula_graph_launch");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        public void close() {
            if (handle == null) return;
            MemorySegment h = handle;
            handle = null;
            lib.call("specula_graph_destroy", h);
        }
    }

    /** A timing mark on a stream (specula_event). */
    public static final class Event implements AutoCloseable {
        private final CudaLibrary lib;
        private MemorySegment handle;

        Event(CudaLibrary lib, MemorySegment handle) {
            this.lib = lib;
            this.handle = handle;
        }

        public void record(Stream stream) {
            try {
                lib.check((int) lib.handle("specula_event_record").invokeExact(handle, stream.handle), "specula_event_record");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** Milliseconds from this event to {@code end} (both recorded; waits for end). */
        public float millisTo(Event end) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ms = a.allocate(F32);
                lib.check((int) lib.handle("specula_event_elapsed").invokeExact(handle, end.handle, ms), "specula_event_elapsed");
                return ms.get(F32, 0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        public void close() {
            if (handle == null) return;
            MemorySegment h = handle;
            handle = null;
            lib.call("specula_event_destroy", h);
        }
    }

    // ---- Kernels (specula.h "Kernels"): queued on a stream, data as (buffer, byte offset) ---------

    /** RoPE parameters (specula_rope_params). */
    public record RopeParams(int nTokens, int nHeads, int headDim, int ropeDim, int mode, float freqBase, float freqScale,
                             float extFactor, float attnFactor, float betaFast, float betaSlow, int nCtxOrig) {
        public static final int NORM = 0, NEOX = 2;

        MemorySegment write(Arena a) {
            MemorySegment m = a.allocate(ROPE_PARAMS);
            m.set(I32, 0, nTokens);
            m.set(I32, 4, nHeads);
            m.set(I32, 8, headDim);
            m.set(I32, 12, ropeDim);
            m.set(I32, 16, mode);
            m.set(F32, 20, freqBase);
            m.set(F32, 24, freqScale);
            m.set(F32, 28, extFactor);
            m.set(F32, 32, attnFactor);
            m.set(F32, 36, betaFast);
            m.set(F32, 40, betaSlow);
            m.set(I32, 44, nCtxOrig);
            return m;
        }
    }

    /** Attention parameters (specula_attention_params). */
    public record AttentionParams(int nTokens, int nHeads, int nKvHeads, int headDim, int ctxSize, float scale) {
        MemorySegment write(Arena a) {
            MemorySegment m = a.allocate(ATTENTION_PARAMS);
            m.set(I32, 0, nTokens);
            m.set(I32, 4, nHeads);
            m.set(I32, 8, nKvHeads);
            m.set(I32, 12, headDim);
            m.set(I32, 16, ctxSize);
            m.set(F32, 20, scale);
            return m;
        }
    }

    private static MemorySegment h(Buffer b) {
        return b == null ? MemorySegment.NULL : b.handle;
    }

    public boolean typeSupported(int ggmlType) {
        try {
            return (int) handle("specula_type_supported").invokeExact(ggmlType) != 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** y (n x rows) = x (n x cols) times W^T, 1 <= n <= 8, W of GGML type {@code type}. */
    public void gemv(Stream s, int type, Buffer w, long wOff, long rows, long cols, Buffer x, long xOff, int n, Buffer y, long yOff) {
        try {
            check((int) handle("specula_gemv").invokeExact(s.handle, type, h(w), wOff, rows, cols, h(x), xOff, n, h(y), yOff), "specula_gemv");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The same product on tensor cores for batches. */
    public void gemm(Stream s, int type, Buffer w, long wOff, long rows, long cols, Buffer x, long xOff, int n, Buffer y, long yOff) {
        try {
            check((int) handle("specula_gemm").invokeExact(s.handle, type, h(w), wOff, rows, cols, h(x), xOff, n, h(y), yOff), "specula_gemm");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void rmsNorm(Stream s, Buffer x, long xOff, Buffer weight, long wOff, Buffer y, long yOff, int nRows, int dim, float eps) {
        try {
            check((int) handle("specula_rms_norm").invokeExact(s.handle, h(x), xOff, h(weight), wOff, h(y), yOff, nRows, dim, eps), "specula_rms_norm");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void add(Stream s, Buffer a, long aOff, Buffer b, long bOff, Buffer y, long yOff, long n) {
        try {
            check((int) handle("specula_add").invokeExact(s.handle, h(a), aOff, h(b), bOff, h(y), yOff, n), "specula_add");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void swiglu(Stream s, Buffer gate, long gOff, Buffer up, long uOff, Buffer y, long yOff, long n) {
        try {
            check((int) handle("specula_swiglu").invokeExact(s.handle, h(gate), gOff, h(up), uOff, h(y), yOff, n), "specula_swiglu");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void softmax(Stream s, Buffer x, long xOff, int nRows, int nCols, float scale) {
        try {
            check((int) handle("specula_softmax").invokeExact(s.handle, h(x), xOff, nRows, nCols, scale), "specula_softmax");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void embedding(Stream s, int type, Buffer table, long tOff, long rows, int dim, Buffer ids, long idsOff, int n, Buffer y, long yOff) {
        try {
            check((int) handle("specula_embedding").invokeExact(s.handle, type, h(table), tOff, rows, dim, h(ids), idsOff, n, h(y), yOff),
                    "specula_embedding");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void rope(Stream s, RopeParams p, Buffer x, long xOff, Buffer positions, long posOff, Buffer freqFactors, long ffOff) {
        try (Arena a = Arena.ofConfined()) {
            check((int) handle("specula_rope").invokeExact(s.handle, p.write(a), h(x), xOff, h(positions), posOff, h(freqFactors), ffOff),
                    "specula_rope");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void kvStore(Stream s, Buffer k, long kOff, Buffer v, long vOff, int nTokens, int kvDim, Buffer cacheK, long ckOff,
                        Buffer cacheV, long cvOff, int ctxSize, Buffer positions, long posOff) {
        try {
            check((int) handle("specula_kv_store").invokeExact(s.handle, h(k), kOff, h(v), vOff, nTokens, kvDim, h(cacheK), ckOff,
                    h(cacheV), cvOff, ctxSize, h(positions), posOff), "specula_kv_store");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void flashAttention(Stream s, AttentionParams p, Buffer q, long qOff, Buffer cacheK, long ckOff, Buffer cacheV, long cvOff,
                               Buffer positions, long posOff, Buffer out, long outOff) {
        try (Arena a = Arena.ofConfined()) {
            check((int) handle("specula_flash_attention").invokeExact(s.handle, p.write(a), h(q), qOff, h(cacheK), ckOff, h(cacheV), cvOff,
                    h(positions), posOff, h(out), outOff), "specula_flash_attention");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long attentionPlainScratch(AttentionParams p) {
        try (Arena a = Arena.ofConfined()) {
            return (long) handle("specula_attention_plain_scratch").invokeExact(p.write(a));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void attentionPlain(Stream s, AttentionParams p, Buffer q, long qOff, Buffer cacheK, long ckOff, Buffer cacheV, long cvOff,
                               Buffer positions, long posOff, Buffer scratch, long scratchOff, Buffer out, long outOff) {
        try (Arena a = Arena.ofConfined()) {
            check((int) handle("specula_attention_plain").invokeExact(s.handle, p.write(a), h(q), qOff, h(cacheK), ckOff, h(cacheV), cvOff,
                    h(positions), posOff, h(scratch), scratchOff, h(out), outOff), "specula_attention_plain");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Routing parameters (specula_moe_route_params): {@code normalize} renormalises the k weights to sum 1. */
    public record MoeRouteParams(int nTokens, int nExperts, int k, boolean normalize) {
        MemorySegment write(Arena a) {
            MemorySegment m = a.allocate(MOE_ROUTE_PARAMS);
            m.set(I32, 0, nTokens);
            m.set(I32, 4, nExperts);
            m.set(I32, 8, k);
            m.set(I32, 12, normalize ? 1 : 0);
            return m;
        }
    }

    /** Router logits (n x experts) to the top-k expert ids (int32) and weights (F32), n x k each, on the device. */
    public void moeRoute(Stream s, MoeRouteParams p, Buffer logits, long lOff, Buffer ids, long idsOff, Buffer weights, long wOff) {
        try (Arena a = Arena.ofConfined()) {
            check((int) handle("specula_moe_route").invokeExact(s.handle, p.write(a), h(logits), lOff, h(ids), idsOff, h(weights), wOff),
                    "specula_moe_route");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * y[t][s] (rows) = W[ids[t][s]] x, W the {@code experts} matrices of rows x cols of {@code type}
     * one after another; x is one row per token, or one per (token, slot) when {@code xPerSlot}.
     */
    public void gemvExperts(Stream s, int type, Buffer w, long wOff, int experts, long rows, long cols, Buffer x, long xOff,
                            boolean xPerSlot, Buffer ids, long idsOff, int nTokens, int k, Buffer y, long yOff) {
        try {
            check((int) handle("specula_gemv_experts").invokeExact(s.handle, type, h(w), wOff, experts, rows, cols, h(x), xOff,
                    xPerSlot ? 1 : 0, h(ids), idsOff, nTokens, k, h(y), yOff), "specula_gemv_experts");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** y[t] = sum_s weights[t][s] x[t][s] (+ sigmoid(sharedGate[t]) shared[t] when shared is not null). */
    public void moeCombine(Stream s, Buffer x, long xOff, Buffer weights, long wOff, int nTokens, int k, int dim, Buffer shared,
                           long sharedOff, Buffer sharedGate, long gateOff, Buffer y, long yOff) {
        try {
            check((int) handle("specula_moe_combine").invokeExact(s.handle, h(x), xOff, h(weights), wOff, nTokens, k, dim, h(shared),
                    sharedOff, h(sharedGate), gateOff, h(y), yOff), "specula_moe_combine");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The sticky in-kernel error bits since the last call (0: none); synchronises the device. */
    public int kernelErrors(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(I32);
            check((int) handle("specula_kernel_errors").invokeExact(device, out), "specula_kernel_errors");
            return out.get(I32, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A buffer of the C ABI; uploads and downloads are synchronous here. */
    public static final class Buffer implements AutoCloseable {
        private final CudaLibrary lib;
        MemorySegment handle;
        public final long bytes;

        Buffer(CudaLibrary lib, MemorySegment handle, long bytes) {
            this.lib = lib;
            this.handle = handle;
            this.bytes = bytes;
        }

        public void upload(long offset, MemorySegment host) {
            upload(offset, host, null);
        }

        /** Queues host -> device on {@code stream} (null: synchronous); host must stay valid until the stream syncs. */
        public void upload(long offset, MemorySegment host, Stream stream) {
            try {
                // A conditional inside invokeExact would be typed Object and fail the exact match: a local first.
                MemorySegment queue = stream == null ? MemorySegment.NULL : stream.handle;
                lib.check((int) lib.handle("specula_buffer_upload").invokeExact(handle, offset, host, host.byteSize(), queue),
                        "specula_buffer_upload");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        public void download(long offset, MemorySegment host) {
            download(offset, host, null);
        }

        /** Queues device -> host on {@code stream} (null: synchronous). */
        public void download(long offset, MemorySegment host, Stream stream) {
            try {
                // A conditional inside invokeExact would be typed Object and fail the exact match: a local first.
                MemorySegment queue = stream == null ? MemorySegment.NULL : stream.handle;
                lib.check((int) lib.handle("specula_buffer_download").invokeExact(handle, offset, host, host.byteSize(), queue),
                        "specula_buffer_download");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** Queues a device-to-device copy of {@code bytes} from src at srcOff to this buffer at dstOff. */
        public void copyFrom(long dstOff, Buffer src, long srcOff, long bytes, Stream stream) {
            try {
                lib.check((int) lib.handle("specula_buffer_copy").invokeExact(handle, dstOff, src.handle, srcOff, bytes, stream.handle),
                        "specula_buffer_copy");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** Queues setting {@code bytes} from {@code offset} to the byte {@code value}. */
        public void fill(long offset, long bytes, int value, Stream stream) {
            try {
                lib.check((int) lib.handle("specula_buffer_fill").invokeExact(handle, offset, bytes, value, stream.handle), "specula_buffer_fill");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        public void close() {
            if (handle == null) return;
            try {
                int status = (int) lib.handle("specula_buffer_free").invokeExact(handle);
                handle = null;
                lib.check(status, "specula_buffer_free");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }
    }

    /** A failed call: the status name and the library's message. */
    public static final class NativeException extends RuntimeException {
        public final int status;

        NativeException(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    void check(int status, String function) {
        if (status != 0) throw new NativeException(status, function + ": " + statusName(status) + ": " + lastError());
    }

    /** Runtime exceptions (a NativeException from check) pass through; checked ones are wrapped. */
    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
