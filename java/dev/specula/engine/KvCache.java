package dev.specula.engine;

import dev.specula.model.ModelConfig;

/**
 * Keys and values of one sequence, per layer and position, in F16 (default, half the memory) or
 * F32. Positions are explicit: entries at or beyond {@link #length()} are garbage, and
 * {@link #truncate} rolls the sequence back (the speculative loop drops rejected drafts with it).
 *
 * <p>This class holds the positions and, for the CPU, the storage in host arrays. A GPU backend
 * keeps its cache in device memory ({@link CudaKvCache}): the same bookkeeping, no host arrays.
 */
public sealed class KvCache implements AutoCloseable permits CudaKvCache, LayerSplitTransformer.SplitCache {
    public enum Precision { F16, F32 }

    private final Precision precision;
    private final int capacity;
    private final int kvDim;
    /** The first layer kept (a cache for layers [firstLayer, ...) of a layer split); layer indices are the model's. */
    private final int firstLayer;
    private final short[][] keys16, values16;
    private final float[][] keys32, values32;
    private int length;

    public KvCache(ModelConfig c, int capacity, Precision precision) {
        this(c, capacity, precision, 0, c.blockCount());
    }

    /** A host cache for layers [firstLayer, endLayer) only (the CPU's segment of a layer split). */
    KvCache(ModelConfig c, int capacity, Precision precision, int firstLayer, int endLayer) {
        if (capacity <= 0) throw new IllegalArgumentException("context size must be positive, got " + capacity);
        this.precision = precision;
        this.capacity = capacity;
        this.kvDim = c.kvDim();
        this.firstLayer = firstLayer;
        int layers = endLayer - firstLayer;
        long perLayer = (long) capacity * kvDim;
        if (perLayer > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("context " + capacity + " too large for one layer array");
        if (precision == Precision.F16) {
            keys16 = new short[layers][(int) perLayer];
            values16 = new short[layers][(int) perLayer];
            keys32 = values32 = null;
        } else {
            keys32 = new float[layers][(int) perLayer];
            values32 = new float[layers][(int) perLayer];
            keys16 = values16 = null;
        }
    }

    /** Positions only: the storage is kept elsewhere (device memory) by the subclass. */
    KvCache(int capacity, Precision precision) {
        if (capacity <= 0) throw new IllegalArgumentException("context size must be positive, got " + capacity);
        this.precision = precision;
        this.capacity = capacity;
        this.kvDim = 0;
        this.firstLayer = 0;
        keys16 = values16 = null;
        keys32 = values32 = null;
    }

    /** True when the keys and values are in this object's host arrays (what the CPU computes with). */
    boolean onHost() {
        return keys16 != null || keys32 != null;
    }

    /** Frees what the cache holds outside the Java heap (nothing, for a host cache). */
    @Override
    public void close() {}

    public int capacity() {
        return capacity;
    }

    public int length() {
        return length;
    }

    public Precision precision() {
        return precision;
    }

    /** Forgets every position from {@code newLength} on. */
    public void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate a cache of length " + length + " to " + newLength);
        }
        length = newLength;
    }

    /** Marks positions below {@code newLength} as filled (after {@link #store} wrote them). */
    void extend(int newLength) {
        if (newLength > capacity) throw new IllegalStateException("context full: " + newLength + " > " + capacity);
        length = Math.max(length, newLength);
    }

    void store(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        if (pos >= capacity) throw new IllegalStateException("position " + pos + " is past the context size " + capacity);
        int base = pos * kvDim;
        if (precision == Precision.F16) {
            short[] kk = keys16[layer - firstLayer], vv = values16[layer - firstLayer];
            for (int i = 0; i < kvDim; i++) {
                kk[base + i] = Float.floatToFloat16(k[kOff + i]);
                vv[base + i] = Float.floatToFloat16(v[vOff + i]);
            }
        } else {
            System.arraycopy(k, kOff, keys32[layer - firstLayer], base, kvDim);
            System.arraycopy(v, vOff, values32[layer - firstLayer], base, kvDim);
        }
    }

    /** Copies {@code n} positions' worth of one head's keys starting at {@code pos} into out[pos-local][headDim]. */
    void readKeys(int layer, int pos, int n, int headOffset, int headDim, float[] out) {
        int l = layer - firstLayer;
        read(keys16 != null ? keys16[l] : null, keys32 != null ? keys32[l] : null, pos, n, headOffset, headDim, out, 0);
    }

    void readValues(int layer, int pos, int n, int headOffset, int headDim, float[] out) {
        readValues(layer, pos, n, headOffset, headDim, out, 0);
    }

    /** As {@link #readValues(int, int, int, int, int, float[])}, writing from {@code out[outOff]}. */
    void readValues(int layer, int pos, int n, int headOffset, int headDim, float[] out, int outOff) {
        int l = layer - firstLayer;
        read(values16 != null ? values16[l] : null, values32 != null ? values32[l] : null, pos, n, headOffset, headDim, out, outOff);
    }

    private void read(short[] half, float[] full, int pos, int n, int headOffset, int headDim, float[] out, int outOff) {
        for (int t = 0; t < n; t++) {
            int src = (pos + t) * kvDim + headOffset, dst = outOff + t * headDim;
            if (full != null) System.arraycopy(full, src, out, dst, headDim);
            else for (int i = 0; i < headDim; i++) out[dst + i] = Float.float16ToFloat(half[src + i]);
        }
    }
}
