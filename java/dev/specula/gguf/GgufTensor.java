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

    /**
     * Matrix {@code i} of a 3-D tensor ({@code [cols, rows, n]}, e.g. one expert of
     * {@code ffn_up_exps}) as a 2-D tensor viewing the same bytes; its name is {@code name[i]}.
     */
    public GgufTensor matrix(int i) {
        if (shape.length != 3) throw new IllegalArgumentException("tensor '" + name + "' has shape " + shapeString() + ", not 3-D");
        if (i < 0 || i >= shape[2]) throw new IndexOutOfBoundsException("tensor '" + name + "' has " + shape[2] + " matrices, no " + i);
        long bytes = byteSize / shape[2], offset = bytes * i;
        return new GgufTensor(name + "[" + i + "]", type, new long[] {shape[0], shape[1]}, shape[0] * shape[1], bytes,
                part, fileOffset + offset, data.asSlice(offset, bytes));
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
