package dev.specula.tensor;

import dev.specula.gguf.GgmlType;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/** What every format shares: its block geometry, argument checks and the scalar dot product. */
abstract class BlockFormat implements TensorFormat {
    private final GgmlType type;
    final int blockSize;
    final int blockBytes;

    BlockFormat(GgmlType type) {
        this.type = type;
        this.blockSize = type.blockSize;
        this.blockBytes = type.blockBytes;
    }

    @Override
    public final GgmlType type() {
        return type;
    }

    /**
     * Byte offset of the block holding {@code firstElement}, after checking that the run is whole
     * blocks and that the array side {@code [arrayOffset, arrayOffset + count)} is in bounds (the
     * segment side is bounds-checked by every access).
     */
    final long startByte(long firstElement, int count, int arrayOffset, int arrayLength) {
        if (firstElement < 0 || count < 0 || firstElement % blockSize != 0 || count % blockSize != 0) {
            throw new IllegalArgumentException(type + ": elements [" + firstElement + ", " + firstElement + " + " + count
                    + ") are not whole blocks of " + blockSize);
        }
        Objects.checkFromIndexSize(arrayOffset, count, arrayLength);
        return firstElement / blockSize * blockBytes;
    }

    @Override
    public float dotScalar(MemorySegment w, long firstElement, float[] x, int xOffset, int count) {
        startByte(firstElement, count, xOffset, x.length);
        float[] block = new float[blockSize];
        double sum = 0;
        for (int i = 0; i < count; i += blockSize) {
            dequantizeScalar(w, firstElement + i, block, 0, blockSize);
            for (int j = 0; j < blockSize; j++) {
                sum += (double) block[j] * x[xOffset + i + j];
            }
        }
        return (float) sum;
    }

    @Override
    public String toString() {
        return type.name();
    }
}
