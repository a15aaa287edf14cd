package dev.specula.gguf;

import java.lang.foreign.MemorySegment;

/**
 * One tensor of a GGUF file: its declared shape (ggml order: shape[0] is the contiguous
 * dimension) and a read-only view of its bytes inside the memory-mapped file.
 *
 * @param part       index of the file part that holds it (0 for single-file models)
 * @param fileOffset absolute byte offset of the data in that part
 */
public record GgufTensor(String name, GgmlType type, long[] shape, long elements, long byteSize,
                         int part, long fileOffset, MemorySegment data) {

    public int rank() {
        return shape.length;
    }

    /** Length of dimension {@code i}, or 1 beyond the tensor's rank (as ggml treats it). */
    public long dim(int i) {
        return i < shape.length ? shape[i] : 1;
    }

    /** Number of rows: the product of all dimensions but the first. */
    public long rows() {
        return shape.length == 0 ? 0 : elements / Math.max(1, shape[0]);
    }

    public String shapeString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(shape[i]);
        }
        return sb.append(']').toString();
    }
}
