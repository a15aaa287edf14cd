package dev.specula.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A format whose weights are small integers times a per-block scale plus a per-block bias:
 * {@code weight = scale × q + bias} with {@code |q| <= maxMagnitude()} over blocks of
 * {@link #blockLength()} weights. The CPU backend repacks such tensors once, at load, into a layout
 * its integer kernels read (the quantised bytes of many blocks interleaved), and multiplies them
 * with activations quantised to 8 bits, as llama.cpp does.
 */
public interface IntegerBlocks {
    /** Weights sharing one scale and bias. */
    int blockLength();

    /** Largest |q| {@link #decode} produces. */
    int maxMagnitude();

    /** Whether any block can have a non-zero bias (false: every bias is 0). */
    boolean hasBias();

    /**
     * For elements {@code [firstElement, firstElement + count)} (whole blocks of the underlying
     * format): {@code q[qOffset + i]} receives element i's integer, and {@code scale[s]},
     * {@code bias[s]} for {@code s = sOffset + i / blockLength()} its block's scale and bias
     * ({@code bias} may be null when {@link #hasBias()} is false).
     */
    void decode(MemorySegment src, long firstElement, int count, byte[] q, int qOffset, float[] scale, float[] bias, int sOffset);
}
