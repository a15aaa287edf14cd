package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.CudaLibrary.Buffer;

/**
 * A KV cache in device memory: per layer, {@code capacity x kvDim} F16 keys then as many values,
 * in one allocation. The positions are the base class's; truncating is bookkeeping alone (rows
 * past the length are overwritten by the next store, and attention reads only rows up to each
 * query's position).
 *
 * <p>It also holds what a recorded decode step is tied to: the graph itself (its kernels address
 * this cache's memory) and, without FlashAttention, the plain attention's scratch for one token.
 */
final class CudaKvCache extends KvCache {
    final CudaTransformer owner;
    final Buffer storage;
    private final long layerBytes, halfBytes;
    /** The first layer it holds: a GPU segment of a layer split keeps only its own layers. */
    private final int firstLayer;
    /** Scratch for a one-token plain attention step (null with FlashAttention). */
    Buffer stepScratch;
    /** The recorded one-token step over this cache, made on first use. */
    CudaLibrary.Graph decodeStep;

    CudaKvCache(CudaTransformer owner, Buffer storage, int capacity, int kvDim, int firstLayer) {
        super(capacity, Precision.F16);
        this.firstLayer = firstLayer;
        this.owner = owner;
        this.storage = storage;
        this.halfBytes = 2L * capacity * kvDim;
        this.layerBytes = 2 * halfBytes;
    }

    /** Bytes of device memory for a cache of this shape. */
    static long bytes(int layers, int capacity, int kvDim) {
        return 4L * layers * capacity * kvDim;
    }

    long keysOffset(int layer) {
        return (layer - firstLayer) * layerBytes;
    }

    long valuesOffset(int layer) {
        return (layer - firstLayer) * layerBytes + halfBytes;
    }

    @Override
    public void close() {
        if (decodeStep != null) decodeStep.close();
        decodeStep = null;
        if (stepScratch != null) stepScratch.close();
        stepScratch = null;
        storage.close();
        owner.forget(this);
    }
}
