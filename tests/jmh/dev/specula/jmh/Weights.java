package dev.specula.jmh;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Seeded random weight tensors in off-heap memory, as a mapped GGUF presents them. */
final class Weights {
    private Weights() {}

    static GgufTensor matrix(GgmlType type, int cols, int rows, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] values = new float[Math.multiplyExact(cols, rows)];
        for (int i = 0; i < values.length; i++) values[i] = (float) r.nextGaussian();
        MemorySegment heap = TensorFormats.of(type).quantize(values);
        MemorySegment data = Arena.ofAuto().allocate(heap.byteSize(), 64).copyFrom(heap);
        return new GgufTensor("bench.weight", type, new long[] {cols, rows}, (long) cols * rows, data.byteSize(), 0, 0, data);
    }

    static float[] vector(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
