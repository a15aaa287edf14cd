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
 * FFM bindings to libspecula_cuda, written to the shape jextract generates from
 * {@code native/include/specula.h} (jextract is not installed on the team's machines; a test
 * checks that every function the header declares is bound here, with its name).
 *
 * <p>The library is looked for in {@code SPECULA_NATIVE_PATH} (a file or a folder), next to the
 * running jar, and in {@code build/cuda/} of the working directory; {@link #load} says where it
 * looked when it finds none, and the CPU backend runs regardless.
 */
public final class CudaLibrary {
    public static final String FILE_NAME = System.mapLibraryName("specula_cuda");
    /** The ABI version this binding was written for (specula.h's SPECULA_ABI_VERSION). */
    public static final int ABI_VERSION = 100;

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
    }

    private final Path path;
    private final Map<String, MethodHandle> handles = new LinkedHashMap<>();

    private CudaLibrary(Path path, SymbolLookup lookup) {
        this.path = path;
        for (Map.Entry<String, FunctionDescriptor> f : FUNCTIONS.entrySet()) {
            MemorySegment symbol = lookup.find(f.getKey())
                    .orElseThrow(() -> new IllegalStateException(path + ": no symbol " + f.getKey() + " (a library older than this binding?)"));
            handles.put(f.getKey(), LINKER.downcallHandle(symbol, f.getValue()));
        }
    }

    /** Where the library is looked for, in order. */
    public static List<Path> candidates() {
        List<Path> out = new ArrayList<>();
        String env = System.getenv("SPECULA_NATIVE_PATH");
        if (env != null && !env.isBlank()) {
            Path p = Path.of(env);
            out.add(Files.isDirectory(p) ? p.resolve(FILE_NAME) : p);
        }
        try {
            Path jar = Path.of(CudaLibrary.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(jar)) out.add(jar.getParent().resolve(FILE_NAME));
        } catch (Exception ignored) {
            // no code source (unusual class loaders): skip that place
        }
        out.add(Path.of("build", "cuda", FILE_NAME).toAbsolutePath());
        return out;
    }

    /** The library, or empty when none of {@link #candidates} exists. A file that exists but does not load is an error. */
    public static Optional<CudaLibrary> load() {
        for (Path p : candidates()) {
            if (Files.isRegularFile(p)) {
                CudaLibrary lib = new CudaLibrary(p, SymbolLookup.libraryLookup(p, Arena.global()));
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

    /** A buffer of the C ABI; uploads and downloads are synchronous here. */
    public static final class Buffer implements AutoCloseable {
        private final CudaLibrary lib;
        private MemorySegment handle;
        public final long bytes;

        Buffer(CudaLibrary lib, MemorySegment handle, long bytes) {
            this.lib = lib;
            this.handle = handle;
            this.bytes = bytes;
        }

        public void upload(long offset, MemorySegment host) {
            try {
                lib.check((int) lib.handle("specula_buffer_upload").invokeExact(handle, offset, host, host.byteSize(), MemorySegment.NULL),
                        "specula_buffer_upload");
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        public void download(long offset, MemorySegment host) {
            try {
                lib.check((int) lib.handle("specula_buffer_download").invokeExact(handle, offset, host, host.byteSize(), MemorySegment.NULL),
                        "specula_buffer_download");
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
