package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;

/**
 * A model split by layer between the CPU and one GPU, as llama.cpp's partial {@code -ngl}: the
 * token embedding and layers [0, k) run on the CPU ({@link CpuTransformer} over those layers, with
 * a host KV cache of those layers), layers [k, n), their KV cache, the final norm and the output
 * on the GPU ({@link CudaTransformer} from layer k, device KV cache of those layers). Each step
 * the hidden state (tokens x dim F32) goes up once at the boundary; only logits come down.
 *
 * <p>The embedding stays on the CPU, as llama.cpp keeps it: the first layer to use it is there
 * (k &gt; 0), so the lookup costs no copy and the table takes no GPU memory. k = n is the output
 * alone on the GPU ({@code -ngl 1}). The GPU layers may in turn keep their feed-forward on the CPU
 * ({@code hostFeedForward}, e.g. the experts with --cpu-moe); without that, the GPU's part of a
 * single-token step is still one recorded graph (the hidden state is uploaded before it).
 */
public final class LayerSplitTransformer implements Transformer {
    private final ModelConfig c;
    private final int cpuLayers;
    private final CpuTransformer cpu;
    private final CudaTransformer gpu;

    /**
     * Layers [0, cpuLayers) on the CPU on {@code threads} threads, the rest and the output on device
     * {@code device} of {@code lib}; of those, the layers with {@code hostFeedForward[li]} keep
     * their feed-forward on the CPU too. {@code 0 < cpuLayers <= n}.
     */
    public LayerSplitTransformer(CudaLibrary lib, int device, ModelConfig config, ModelWeights weights, boolean flashAttention,
                                 WeightResidency residency, int cpuLayers, boolean[] hostFeedForward, int threads) {
        int n = config.blockCount();
        if (cpuLayers <= 0 || cpuLayers > n) {
            throw new IllegalArgumentException("a layer split keeps 1 to " + n + " layers on the CPU, not " + cpuLayers);
        }
        this.c = config;
        this.cpuLayers = cpuLayers;
        boolean[] host = hostFeedForward.clone();
        for (int li = 0; li < cpuLayers; li++) host[li] = false; // those run whole on the CPU segment
        this.gpu = new CudaTransformer(lib, device, config, weights, flashAttention, residency, host, threads, cpuLayers);
        try {
            this.cpu = new CpuTransformer(config, weights, threads, flashAttention, cpuLayers);
        } catch (RuntimeException e) {
            gpu.close();
            throw e;
        }
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    /** Layers on the CPU: [0, cpuLayers). */
    public int cpuLayers() {
        return cpuLayers;
    }

    /** The GPU segment (its device name, weight bytes, residency, timing). */
    public CudaTransformer gpu() {
        return gpu;
    }

    @Override
    public String backendName() {
        return "CPU+" + gpu.backendName();
    }

    /** A cache in two parts, host for the CPU's layers and device for the GPU's, one length. */
    @Override
    public KvCache newCache(int capacity, KvCache.Precision precision) {
        KvCache device = gpu.newCache(capacity, precision); // refuses all but F16, as the GPU alone does
        return new SplitCache(this, cpu.newCache(capacity, precision), (CudaKvCache) device);
    }

    @Override
    public float[][] forward(int[] tokens, KvCache kv, boolean allLogits) {
        if (!(kv instanceof SplitCache cache) || cache.owner != this) {
            throw new IllegalArgumentException("this KV cache was not made by this layer split (use its newCache)");
        }
        int start = cache.length();
        if (cache.host.length() != start || cache.device.length() != start) {
            throw new IllegalStateException("layer split cache out of step: " + start + " positions, CPU part " + cache.host.length()
                    + ", GPU part " + cache.device.length());
        }
        float[][] hidden = cpu.hidden(tokens, cache.host); // checks the ids and the room left
        float[][] logits;
        try {
            logits = gpu.forwardHidden(tokens, hidden, cache.device, allLogits);
        } catch (RuntimeException e) {
            cache.host.truncate(start); // both parts stay at the same length
            throw e;
        }
        cache.extend(start + tokens.length);
        return logits;
    }

    @Override
    public void close() {
        try {
            gpu.close(); // frees the device parts of the caches too
        } finally {
            cpu.close();
        }
    }

    /**
     * The cache of a layer split: a host cache of layers [0, k) and a device cache of [k, n),
     * always the same length; {@link #truncate} (a rejected speculative draft) rolls back both.
     */
    static final class SplitCache extends KvCache {
        final LayerSplitTransformer owner;
        final KvCache host;
        final CudaKvCache device;

        SplitCache(LayerSplitTransformer owner, KvCache host, CudaKvCache device) {
            super(host.capacity(), host.precision());
            this.owner = owner;
            this.host = host;
            this.device = device;
        }

        @Override
        public void truncate(int newLength) {
            super.truncate(newLength);
            host.truncate(newLength);
            device.truncate(newLength);
        }

        @Override
        public void close() {
            host.close();
            device.close();
        }
    }
}
