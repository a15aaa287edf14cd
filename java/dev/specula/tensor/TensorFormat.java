package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * How the elements of one GGUF tensor type are stored, and what the runtime does with them:
 * expand a run of elements to floats, take the dot product of a run with float activations,
 * and (for writing test models) turn floats into that storage.
 *
 * <p>Element positions count from the start of the given segment (for a {@code GgufTensor},
 * its {@code data()}); a run must start and end on block boundaries ({@link GgmlType#blockSize}),
 * otherwise the methods throw {@link IllegalArgumentException}.
 *
 * <p>{@link #dequantize} and {@link #dot} are the fast paths (JDK Vector API). Their scalar
 * twins are plain loops written straight from ggml's definition of the format; they are the
 * reference the fast paths are tested against. {@code dequantize} and {@code dequantizeScalar}
 * give bit-identical floats; {@code dot} may differ from {@code dotScalar} by float rounding,
 * since it sums in a different order.
 *
 * <p>Formats hold no state: one instance serves every tensor of its type, from any thread.
 */
public interface TensorFormat {

    GgmlType type();

    /** Writes elements {@code [firstElement, firstElement + count)} of {@code src} as floats. */
    void dequantize(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count);

    /** The reference for {@link #dequantize}: same result, one element at a time. */
    void dequantizeScalar(MemorySegment src, long firstElement, float[] dst, int dstOffset, int count);

    /** Sum over {@code i < count} of weight {@code firstElement + i} times {@code x[xOffset + i]}. */
    float dot(MemorySegment w, long firstElement, float[] x, int xOffset, int count);

    /** The reference for {@link #dot}: dequantises each block and sums in double precision. */
    float dotScalar(MemorySegment w, long firstElement, float[] x, int xOffset, int count);

    /**
     * Encodes {@code count} floats from {@code src} as elements starting at {@code firstElement}
     * of {@code dst}. Whether this reproduces ggml's own quantizer byte for byte is
     * {@link #quantizesLikeGgml()}; either way the bytes are a valid encoding of the format.
     */
    void quantize(float[] src, int srcOffset, MemorySegment dst, long firstElement, int count);

    /**
     * True where {@link #quantize} is ggml's reference algorithm ({@code quantize_row_*_ref}, or
     * the plain conversion for float types), so a file written with it matches one written by
     * llama.cpp; false where it is a simpler scheme that only promises a valid, reasonably
     * accurate encoding.
     */
    boolean quantizesLikeGgml();

    /** Encodes all of {@code values} (a whole number of blocks) into a new heap segment. */
    default MemorySegment quantize(float[] values) {
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(type().bytesFor(values.length))]);
        quantize(values, 0, out, 0, values.length);
        return out;
    }

    /** Expands the first {@code count} elements of {@code src} into a new array. */
    default float[] dequantize(MemorySegment src, int count) {
        float[] out = new float[count];
        dequantize(src, 0, out, 0, count);
        return out;
    }
}
