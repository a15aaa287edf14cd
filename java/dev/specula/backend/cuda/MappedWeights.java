package dev.specula.backend.cuda;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's weights readable by a device without a copy ({@link WeightResidency#MAPPED}): each
 * part of the GGUF file, memory-mapped once by {@link GgufFile}, is registered whole with
 * specula_buffer_register_host, and a tensor is its part's buffer at the tensor's file offset.
 *
 * <p>A part is registered from its first byte because that is the address mmap aligned to a page
 * (Metal's newBufferWithBytesNoCopy requires it; CUDA pins whole pages anyway), up to the end of
 * its last tensor; the backend rounds the length up to whole pages, which the mapping covers.
 *
 * <p>CUDA refuses to register a range twice (cudaErrorHostMemoryAlreadyRegistered), and two
 * models over one open file (a target and a draft from the same file, two engines in one
 * process) map the same bytes: so a part's registration is shared, counted, and undone when the
 * last user closes.
 */
public final class MappedWeights implements AutoCloseable {
    /** Where a tensor lives for the device: a buffer and the byte offset of its data in it. */
    public record Slice(CudaLibrary.Buffer buffer, long offset) {}

    /** One part's registered range: from the mapping's first byte to the end of its last tensor. */
    record PartRange(int part, MemorySegment start, long bytes) {}

    /**
     * A registered range, shared by every MappedWeights over the same mapping and device; keyed
     * without the CudaLibrary instance, since the registration is the process's, not an instance's.
     */
    private record RangeKey(int device, long address, long bytes) {}

    private static final class Shared {
        final CudaLibrary.Buffer buffer;
        int users;

        Shared(CudaLibrary.Buffer buffer) {
            this.buffer = buffer;
        }
    }

    private static final Map<RangeKey, Shared> REGISTERED = new HashMap<>();

    private final List<CudaLibrary.Buffer> parts;
    private final List<RangeKey> keys;
    private boolean closed;

    private MappedWeights(List<CudaLibrary.Buffer> parts, List<RangeKey> keys) {
        this.parts = parts;
        this.keys = keys;
    }

    /** Registers every part of {@code file} for {@code device}; the file must stay open while this lives. */
    public static MappedWeights register(CudaLibrary lib, int device, GgufFile file) {
        List<CudaLibrary.Buffer> buffers = new ArrayList<>();
        List<RangeKey> keys = new ArrayList<>();
        synchronized (REGISTERED) {
            try {
                for (PartRange r : partRanges(file)) {
                    while (buffers.size() < r.part()) buffers.add(null);
                    if (r.bytes() == 0) {
                        buffers.add(null);
                        continue;
                    }
                    RangeKey key = new RangeKey(device, r.start().address(), r.bytes());
                    Shared shared = REGISTERED.get(key);
                    if (shared == null) {
                        shared = new Shared(lib.registerHost(device, r.start()));
                        REGISTERED.put(key, shared);
                    }
                    shared.users++;
                    keys.add(key);
                    buffers.add(shared.buffer);
                }
            } catch (RuntimeException e) {
                release(keys);
                throw e;
            }
        }
        return new MappedWeights(buffers, keys);
    }

    /** Drops one use of each range, unregistering those nobody uses any more; the first failure is thrown. */
    private static void release(List<RangeKey> keys) {
        RuntimeException first = null;
        for (RangeKey key : keys) {
            Shared shared = REGISTERED.get(key);
            if (shared == null || --shared.users > 0) continue;
            REGISTERED.remove(key);
            try {
                shared.buffer.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }

    /** The registered ranges of each part, in part order (bytes 0 for a part without tensors). */
    static List<PartRange> partRanges(GgufFile file) {
        int count = file.paths().size();
        long[] start = new long[count];
        long[] end = new long[count];
        for (GgufTensor t : file.tensors()) {
            long base = t.data().address() - t.fileOffset();
            if (end[t.part()] != 0 && start[t.part()] != base) {
                throw new IllegalStateException(file.paths().get(t.part()) + ": tensor '" + t.name() + "' is not in its part's mapping");
            }
            start[t.part()] = base;
            end[t.part()] = Math.max(end[t.part()], t.fileOffset() + t.byteSize());
        }
        List<PartRange> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            // Restricted (native access is enabled by the manifest and the launcher): the mapping
            // holds at least end[i] bytes from its start, as GgufFile validated every tensor's range.
            out.add(new PartRange(i, MemorySegment.ofAddress(start[i]).reinterpret(end[i]), end[i]));
        }
        return out;
    }

    /** The tensor's data as the device sees it. */
    public Slice slice(GgufTensor t) {
        CudaLibrary.Buffer b = t.part() < parts.size() ? parts.get(t.part()) : null;
        if (b == null) throw new IllegalArgumentException("tensor '" + t.name() + "' is in part " + t.part() + ", which is not registered");
        return new Slice(b, t.fileOffset());
    }

    /** Unregisters every part no other MappedWeights still uses (the mapping itself stays the file's). */
    @Override
    public void close() {
        synchronized (REGISTERED) {
            if (closed) return;
            closed = true;
            release(keys);
        }
    }
}
