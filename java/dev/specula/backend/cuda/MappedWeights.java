package dev.specula.backend.cuda;

import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A model's weights readable by a device without a copy ({@link WeightResidency#MAPPED}): each
 * part of the GGUF file, memory-mapped once by {@link GgufFile}, is registered whole with
 * specula_buffer_register_host, and a tensor is its part's buffer at the tensor's file offset.
 *
 * <p>A part is registered from its first byte because that is the address mmap aligned to a page
 * (Metal's newBufferWithBytesNoCopy requires it; CUDA pins whole pages anyway), up to the end of
 * its last tensor; the backend rounds the length up to whole pages, which the mapping covers.
 */
public final class MappedWeights implements AutoCloseable {
    /** Where a tensor lives for the device: a buffer and the byte offset of its data in it. */
    public record Slice(CudaLibrary.Buffer buffer, long offset) {}

    /** One part's registered range: from the mapping's first byte to the end of its last tensor. */
    record PartRange(int part, MemorySegment start, long bytes) {}

    private final List<CudaLibrary.Buffer> parts;

    private MappedWeights(List<CudaLibrary.Buffer> parts) {
        this.parts = parts;
    }

    /** Registers every part of {@code file} for {@code device}; the file must stay open while this lives. */
    public static MappedWeights register(CudaLibrary lib, int device, GgufFile file) {
        List<CudaLibrary.Buffer> buffers = new ArrayList<>();
        try {
            for (PartRange r : partRanges(file)) {
                while (buffers.size() < r.part()) buffers.add(null);
                buffers.add(r.bytes() == 0 ? null : lib.registerHost(device, r.start()));
            }
        } catch (RuntimeException e) {
            for (CudaLibrary.Buffer b : buffers) {
                if (b != null) b.close();
            }
            throw e;
        }
        return new MappedWeights(buffers);
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

    /** Unregisters every part (the mapping itself stays the file's). */
    @Override
    public void close() {
        RuntimeException first = null;
        for (CudaLibrary.Buffer b : parts) {
            if (b == null) continue;
            try {
                b.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        if (first != null) throw first;
    }
}
