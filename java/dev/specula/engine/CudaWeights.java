package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.CudaLibrary.Buffer;
import dev.specula.backend.cuda.MappedWeights;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufTensor;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A model's weights for one device, kept as they are in the file (quantised matrices are never
 * expanded: the kernels dequantise in registers): uploaded once into device memory
 * ({@link WeightResidency#UPLOAD}), or, on an integrated GPU or when asked, the mapped file itself
 * registered for the device ({@link WeightResidency#MAPPED}, {@link MappedWeights}: no copy; a
 * matrix is then its part's buffer at the tensor's file offset). Norms and biases, which
 * {@link ModelWeights} holds as floats, go up as F32 either way (they are tiny).
 *
 * <p>Every matrix type is checked against the kernels ({@code specula_type_supported}) and the
 * total size against the device's free memory before anything is allocated, so a model that
 * cannot run fails at once, naming the tensor or the sizes.
 */
final class CudaWeights implements AutoCloseable {
    /** A {@code rows x cols} weight matrix of GGML type {@code type}, laid out as in the file, at {@code offset} of {@code buffer}. */
    record Matrix(String name, Buffer buffer, long offset, int type, long rows, long cols) {}

    /**
     * One layer's tensors; biases (qwen2) and Q/K norms (qwen3) are null where the architecture has
     * none; gate/up/down are null for a mixture of experts (its {@link Experts} instead) and where
     * the feed-forward runs on the CPU (experts null too).
     */
    record Layer(Buffer attnNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo, Buffer bq, Buffer bk, Buffer bv,
                 Buffer qNorm, Buffer kNorm, Buffer ffnNorm, Matrix gate, Matrix up, Matrix down, Experts experts) {}

    /**
     * A mixture-of-experts layer on the device: the router ({@code count} rows), the 3-D expert
     * tensors as in the file ({@code rows x cols} is one expert's matrix; {@code count} of them
     * follow one another), and qwen2moe's shared expert with its one-row gate (null elsewhere).
     */
    record Experts(Matrix router, Matrix gate, Matrix up, Matrix down, int count, Matrix sharedRouter, Matrix sharedGate,
                   Matrix sharedUp, Matrix sharedDown) {}

    final Matrix embedding, output;
    final Buffer outputNorm;
    /** rope_freqs.weight (ropeDims/2 floats), or null. */
    final Buffer ropeFreqs;
    final Layer[] layers;
    /** Bytes of device memory the weights take (the norms and biases alone, when mapped). */
    final long bytes;
    final WeightResidency residency;

    private final CudaLibrary lib;
    private final int device;
    private final List<Buffer> owned = new ArrayList<>();
    /** The registered file, when mapped. */
    private final MappedWeights mapped;
    /** Tensors already uploaded (a tied output is the embedding itself). */
    private final Map<GgufTensor, Matrix> uploaded = new IdentityHashMap<>();

    CudaWeights(CudaLibrary lib, int device, ModelConfig c, ModelWeights w, WeightResidency residency) {
        this(lib, device, c, w, residency, new boolean[c.blockCount()], 0);
    }

    /**
     * As above, except the feed-forward of each layer {@code li} with {@code hostFeedForward[li]},
     * which stays in host memory (it runs on the CPU: split execution); a mixture-of-experts layer
     * otherwise uploads its router and expert tensors. Only layers from {@code firstLayer}
     * on are taken (a layer split's GPU segment: the layers before it, and the token embedding
     * unless the output is tied to it, stay on the CPU); {@link #layers} is null below it.
     */
    CudaWeights(CudaLibrary lib, int device, ModelConfig c, ModelWeights w, WeightResidency residency, boolean[] hostFeedForward,
                int firstLayer) {
        if (c.moe() != null && !lib.backend().equals("cuda")) {
            for (int li = firstLayer; li < c.blockCount(); li++) {
                if (!hostFeedForward[li]) {
                    throw new IllegalArgumentException(c.architecture() + " layer " + li + ": its experts would be on " + lib.backend().toUpperCase(Locale.ROOT)
                            + ", whose backend has no expert kernels yet (only CUDA has); keep them on the CPU (--cpu-moe) or run on the CPU (--device cpu)");
                }
            }
        }
        this.lib = lib;
        this.device = device;
        this.residency = residency;
        List<GgufTensor> matrices = matrices(w, hostFeedForward, firstLayer);
        checkTypes(lib, matrices);
        bytes = requiredBytes(c, w, residency == WeightResidency.MAPPED ? List.of() : matrices, firstLayer);
        checkFits(lib, device, bytes);
        mapped = residency == WeightResidency.MAPPED ? MappedWeights.register(lib, device, w.file()) : null;
        try {
            embedding = firstLayer == 0 ? matrix(w.tokenEmbedding) : null;
            output = matrix(w.output);
            outputNorm = vector(w.outputNorm);
            ropeFreqs = w.ropeFreqs == null ? null : vector(w.ropeFreqs);
            layers = new Layer[c.blockCount()];
            for (int i = firstLayer; i < layers.length; i++) {
                ModelWeights.Layer l = w.layers[i];
                layers[i] = new Layer(vector(l.attnNorm()), matrix(l.wq()), matrix(l.wk()), matrix(l.wv()), matrix(l.wo()),
                        vector(l.bq()), vector(l.bk()), vector(l.bv()), vector(l.qNorm()), vector(l.kNorm()),
                        vector(l.ffnNorm()), hostFeedForward[i] ? null : matrix(l.gate()), hostFeedForward[i] ? null : matrix(l.up()),
                        hostFeedForward[i] ? null : matrix(l.down()), hostFeedForward[i] ? null : experts(l.experts(), c));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private static List<GgufTensor> matrices(ModelWeights w, boolean[] hostFeedForward, int firstLayer) {
        List<GgufTensor> out = new ArrayList<>(firstLayer == 0 ? List.of(w.tokenEmbedding, w.output) : List.of(w.output));
        for (int i = firstLayer; i < w.layers.length; i++) {
            ModelWeights.Layer l = w.layers[i];
            out.addAll(List.of(l.wq(), l.wk(), l.wv(), l.wo()));
            if (hostFeedForward[i]) continue;
            ModelWeights.Experts e = l.experts();
            if (e == null) {
                out.addAll(List.of(l.gate(), l.up(), l.down()));
            } else {
                out.addAll(List.of(e.router(), e.gate(), e.up(), e.down()));
                if (e.sharedRouter() != null) out.addAll(List.of(e.sharedRouter(), e.sharedGate(), e.sharedUp(), e.sharedDown()));
            }
        }
        return out;
    }

    /** The first matrix of a type the kernels do not take is an error naming it, its type and what they take. */
    static void checkTypes(CudaLibrary lib, List<GgufTensor> matrices) {
        for (GgufTensor t : matrices) {
            if (!lib.typeSupported(t.type().id)) {
                String supported = java.util.Arrays.stream(GgmlType.values()).filter(x -> lib.typeSupported(x.id))
                        .map(Enum::name).collect(Collectors.joining(", "));
                throw new IllegalArgumentException("tensor '" + t.name() + "' has type " + t.type().name()
                        + ", which the CUDA kernels do not take (they take: " + (supported.isEmpty() ? "none yet" : supported)
                        + "); run the model on the CPU (--device cpu)");
            }
        }
    }

    private static long requiredBytes(ModelConfig c, ModelWeights w, List<GgufTensor> matrices, int firstLayer) {
        long total = 0;
        java.util.Set<GgufTensor> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (GgufTensor t : matrices) if (seen.add(t)) total += t.byteSize();
        long floats = c.embeddingLength() + (w.ropeFreqs == null ? 0 : w.ropeFreqs.length);
        for (ModelWeights.Layer l : java.util.Arrays.asList(w.layers).subList(firstLayer, w.layers.length)) {
            for (float[] v : new float[][] {l.attnNorm(), l.ffnNorm(), l.bq(), l.bk(), l.bv(), l.qNorm(), l.kNorm()}) {
                if (v != null) floats += v.length;
            }
        }
        return total + 4 * floats;
    }

    /** Refuses, in one line, weights larger than the device's free memory. */
    static void checkFits(CudaLibrary lib, int device, long bytes) {
        CudaLibrary.Device d = lib.device(device);
        if (bytes > d.freeMemory()) {
            throw new IllegalStateException(String.format(Locale.ROOT,
                    "the weights need %.2f GiB but CUDA%d (%s) has %.2f GiB free of %.2f GiB; use a smaller model or the CPU",
                    gib(bytes), device, d.name(), gib(d.freeMemory()), gib(d.totalMemory())));
        }
    }

    static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }

    private Experts experts(ModelWeights.Experts e, ModelConfig c) {
        if (e == null) return null;
        boolean shared = e.sharedRouter() != null;
        return new Experts(matrix(e.router()), matrix(e.gate()), matrix(e.up()), matrix(e.down()), c.moe().expertCount(),
                shared ? matrix(e.sharedRouter()) : null, shared ? matrix(e.sharedGate()) : null, shared ? matrix(e.sharedUp()) : null,
                shared ? matrix(e.sharedDown()) : null);
    }

    private Matrix matrix(GgufTensor t) {
        if (t == null) return null;
        Matrix m = uploaded.get(t);
        if (m != null) return m;
        if (mapped != null) {
            MappedWeights.Slice s = mapped.slice(t);
            m = new Matrix(t.name(), s.buffer(), s.offset(), t.type().id, t.dim(1), t.dim(0));
            uploaded.put(t, m);
            return m;
        }
        Buffer b = allocate(t.name(), t.byteSize());
        MemorySegment data = t.data();
        if (data.isNative()) {
            b.upload(0, data);
        } else {
            try (Arena a = Arena.ofConfined()) {
                b.upload(0, a.allocate(data.byteSize()).copyFrom(data));
            }
        }
        m = new Matrix(t.name(), b, 0, t.type().id, t.dim(1), t.dim(0));
        uploaded.put(t, m);
        return m;
    }

    private Buffer vector(float[] values) {
        if (values == null) return null;
        Buffer b = allocate("a norm or bias vector", 4L * values.length);
        try (Arena a = Arena.ofConfined()) {
            b.upload(0, a.allocateFrom(ValueLayout.JAVA_FLOAT, values));
        }
        return b;
    }

    private Buffer allocate(String what, long n) {
        try {
            Buffer b = lib.allocate(device, n);
            owned.add(b);
            return b;
        } catch (CudaLibrary.NativeException e) {
            throw new IllegalStateException("CUDA" + device + ": cannot allocate " + n + " bytes for " + what + ": " + e.getMessage(), e);
        }
    }

    /** Whether some layer's experts are on the device (its feed-forward then runs there). */
    boolean hasExperts() {
        for (Layer l : layers) if (l != null && l.experts() != null) return true;
        return false;
    }

    @Override
    public void close() {
        for (Buffer b : owned) b.close();
        owned.clear();
        if (mapped != null) mapped.close();
    }
}
