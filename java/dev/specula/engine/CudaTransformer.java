package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.CudaLibrary.AttentionParams;
import dev.specula.backend.cuda.CudaLibrary.Buffer;
import dev.specula.backend.cuda.CudaLibrary.MoeRouteParams;
import dev.specula.backend.cuda.CudaLibrary.RopeParams;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.model.RopeScaling;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The llama / qwen2 / qwen3 forward pass on one CUDA device, step for step the CPU's
 * ({@link CpuTransformer}) on the kernels of specula.h: the weights are uploaded once as they are
 * in the file, the F16 KV cache lives in device memory, and activations never leave the device;
 * only token ids and positions go up and logits come down.
 *
 * <ul>
 *   <li>Batches (prefill, speculative verification) queue the kernels directly, products through
 *       GEMV up to {@value #GEMV_MAX_BATCH} rows and GEMM (tensor cores) beyond.
 *   <li>A single-token step is recorded once per cache as a graph and replayed for every token:
 *       the token id and position are uploaded to device memory first, and every kernel that
 *       needs them (embedding, RoPE, KV store, attention) reads them from there, so one launch
 *       runs the whole step. The time each replay takes on the device is measured with events
 *       ({@link #gpuMillis}).
 * </ul>
 *
 * <p>Mixture of experts on the device: router logits (GEMV, in F32 even in a batch: routing is a
 * discontinuous choice, and the CPU's is made from F32 logits), {@code specula_moe_route} (softmax,
 * top-k, the architecture's renormalisation) writing expert ids and weights to device memory,
 * {@code specula_gemv_experts} for gate, up and down reading those ids there, and
 * {@code specula_moe_combine} for the weighted sum (plus qwen2moe's sigmoid-gated shared expert).
 * No host round trip, so a MoE decode step is one recorded graph too. A batch runs the expert
 * products per (token, slot), not grouped by expert: correct, slower than a grouped GEMM.
 *
 * <p>Split execution: the feed-forward of layers the placement keeps on the CPU (MoE layers whose
 * experts it puts there, {@code --cpu-moe}; chosen dense layers) runs there
 * ({@link HostFeedForward}): the normed activations are copied down, the result up, and the step
 * goes on on the GPU. Such a step has host work in the middle, so it is queued directly, never
 * recorded as a graph.
 *
 * <p>Layer split: a transformer made with {@code firstLayer > 0} is the GPU segment of
 * {@link LayerSplitTransformer}: it holds layers [firstLayer, n), their KV cache, the final norm
 * and the output, and takes the hidden state after layer {@code firstLayer - 1} from the CPU
 * ({@link #forwardHidden}) instead of token ids. The hidden state goes up before the step, so a
 * one-token step is still one recorded graph.
 *
 * <p>What specula.h has no kernel for is composed: qwen2's bias add over a batch broadcasts the
 * bias with doubling device copies, then adds ({@code specula_add} has no broadcast); qwen3's
 * per-head Q/K norms are {@code specula_rms_norm} over {@code n_tokens x n_heads} rows of one head.
 */
public final class CudaTransformer implements Transformer {
    /** Most rows specula_gemv takes (one pass over the weights for all of them); larger batches use GEMM. */
    static final int GEMV_MAX_BATCH = 8;
    /** Head sizes specula_flash_attention takes (specula.h); other models run plain attention. */
    static final Set<Integer> FLASH_HEAD_DIMS = Set.of(64, 80, 96, 128);
    private static final long F32 = 4;

    private final CudaLibrary lib;
    private final int device;
    private final String deviceName;
    private final ModelConfig c;
    private final CudaWeights w;
    private final boolean flash;
    private final CudaLibrary.Stream stream;
    private final RopeParams ropeQ1, ropeK1;
    /** Activations of the one-token step (what the recorded graphs address), and of batches (grown on demand). */
    private final Activations step;
    private Activations batch;
    /** Scratch for plain attention over a batch, grown on demand. */
    private Buffer batchScratch;
    /** Host memory that uploads read and downloads write: ids and positions, then logits. */
    private final Arena arena = Arena.ofShared();
    private MemorySegment staging;
    private final List<CudaKvCache> caches = new ArrayList<>();
    private boolean decodeGraphs = true;
    /** The CPU segments (split execution), or null where the whole step runs on the GPU. */
    private final HostFeedForward host;
    /** The first layer on this device (0: the whole model, embedding included; above: a layer split's GPU segment). */
    private final int firstLayer;
    /** Events around each graph launch, or null where the library has none. */
    private CudaLibrary.Event launchStart, launchEnd;
    private long timedSteps;
    private double gpuMillis;

    /**
     * Uploads the weights to device {@code device} of {@code lib} (or maps them, on an integrated
     * GPU: {@link WeightResidency#choose}). {@code flashAttention} asks for the FlashAttention
     * kernel; models whose head size it does not take run plain attention ({@link #flashAttention()}
     * says which runs).
     */
    public CudaTransformer(CudaLibrary lib, int device, ModelConfig config, ModelWeights weights, boolean flashAttention) {
        this(lib, device, config, weights, flashAttention, WeightResidency.choose(lib.device(device), false));
    }

    /** As above, with the weights' residency chosen by the caller ({@code --no-copy-weights}: MAPPED). */
    public CudaTransformer(CudaLibrary lib, int device, ModelConfig config, ModelWeights weights, boolean flashAttention,
                           WeightResidency residency) {
        this(lib, device, config, weights, flashAttention, residency, new boolean[config.blockCount()], 1);
    }

    /**
     * As above, split: the feed-forward of each layer {@code li} with {@code hostFeedForward[li]}
     * stays on the CPU and runs there on {@code threads} threads.
     */
    public CudaTransformer(CudaLibrary lib, int device, ModelConfig config, ModelWeights weights, boolean flashAttention,
                           WeightResidency residency, boolean[] hostFeedForward, int threads) {
        this(lib, device, config, weights, flashAttention, residency, hostFeedForward, threads, 0);
    }

    /**
     * As above, only layers [firstLayer, n) and the output (a layer split's GPU segment, fed the
     * hidden state by {@link #forwardHidden}); {@code firstLayer} may be n (the output alone).
     */
    CudaTransformer(CudaLibrary lib, int device, ModelConfig config, ModelWeights weights, boolean flashAttention,
                    WeightResidency residency, boolean[] hostFeedForward, int threads, int firstLayer) {
        if (firstLayer < 0 || firstLayer > config.blockCount()) throw new IllegalArgumentException("first GPU layer " + firstLayer + " outside the model's " + config.blockCount() + " layers");
        this.firstLayer = firstLayer;
        this.lib = lib;
        this.device = device;
        this.deviceName = lib.device(device).name();
        this.c = config;
        this.flash = flashAttention && FLASH_HEAD_DIMS.contains(config.headDim());
        this.ropeQ1 = rope(1, c.headCount());
        this.ropeK1 = rope(1, c.headCountKv());
        this.staging = arena.allocate(Math.max(8L, F32 * c.vocabSize()), 64);
        try {
            this.w = new CudaWeights(lib, device, config, weights, residency, hostFeedForward, firstLayer);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        boolean split = false;
        for (boolean h : hostFeedForward) split |= h;
        this.host = split ? new HostFeedForward(config, weights, hostFeedForward, threads) : null;
        if (split) decodeGraphs = false;
        try {
            this.stream = lib.stream(device);
            this.step = new Activations(1, 1);
            try {
                launchStart = lib.event(device);
                launchEnd = lib.event(device);
            } catch (CudaLibrary.NativeException e) {
                if (launchStart != null) launchStart.close();
                launchStart = launchEnd = null; // no timing, everything else the same
            }
        } catch (RuntimeException e) {
            close(); // what was made so far (close skips what was not)
            throw e;
        }
    }

    /**
     * On device 0 of {@code library} (usually {@link CudaLibrary#load}; empty: none was found), the
     * weights copied or mapped as {@link WeightResidency#choose} says; an {@link IllegalStateException}
     * says why when there is no device ({@link #unavailable} tells beforehand).
     */
    public static CudaTransformer open(Optional<CudaLibrary> library, ModelConfig config, ModelWeights weights, boolean flashAttention,
                                       boolean noCopyWeights) {
        CudaLibrary lib = library.orElseThrow(() -> new IllegalStateException(noLibrary()));
        if (lib.deviceCount() == 0) throw new IllegalStateException("no CUDA device: " + lib.lastError());
        return new CudaTransformer(lib, 0, config, weights, flashAttention, WeightResidency.choose(lib.device(0), noCopyWeights));
    }

    /** Why {@code library} cannot run a model (none found, no device), or null when it can. */
    public static String unavailable(Optional<CudaLibrary> library) {
        if (library.isEmpty()) return noLibrary();
        return library.get().deviceCount() > 0 ? null : "no CUDA device: " + library.get().lastError();
    }

    private static String noLibrary() {
        return "no " + CudaLibrary.FILE_NAME + " (looked for " + CudaLibrary.candidates() + ")";
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public String backendName() {
        return lib.backend().toUpperCase(java.util.Locale.ROOT) + device; // CUDA0; METAL0 where the library is Metal's
    }

    /** Whether some layers' feed-forwards run on the CPU (--cpu-moe, -ot ...=CPU): bench names the row CPU+CUDA0. */
    public boolean splitsFeedForward() {
        return host != null;
    }

    /** The GPU's name, as the driver reports it. */
    public String deviceName() {
        return deviceName;
    }

    /** Whether FlashAttention runs (asked for, and the model's head size is one the kernel takes). */
    public boolean flashAttention() {
        return flash;
    }

    /** Bytes of device memory the weights take (only norms and biases when they are mapped). */
    public long weightBytes() {
        return w.bytes;
    }

    /** Whether the weights were copied to the device or are the mapped file registered for it. */
    public WeightResidency weightResidency() {
        return w.residency;
    }

    /**
     * Single-token steps replay a recorded graph (the default) or queue their kernels one by one
     * (for comparison); a split step is always queued (it has host work in the middle).
     */
    public void decodeWithGraphs(boolean on) {
        decodeGraphs = on && host == null;
    }

    /** Whether some feed-forward runs on the CPU (split execution). */
    public boolean split() {
        return host != null;
    }

    /** Graph replays timed since the last {@link #resetTiming} (0 where the library has no events). */
    public long timedSteps() {
        return timedSteps;
    }

    /** Device milliseconds those replays took, measured by events around each launch. */
    public double gpuMillis() {
        return gpuMillis;
    }

    public void resetTiming() {
        timedSteps = 0;
        gpuMillis = 0;
    }

    /** Only F16: specula_kv_store writes F16 rows. */
    @Override
    public KvCache newCache(int capacity, KvCache.Precision precision) {
        if (precision != KvCache.Precision.F16) {
            throw new IllegalArgumentException("the CUDA backend keeps an F16 KV cache; an " + precision + " cache (-ctk) runs on the CPU only");
        }
        if (capacity <= 0) throw new IllegalArgumentException("context size must be positive, got " + capacity);
        long bytes = CudaKvCache.bytes(c.blockCount() - firstLayer, capacity, c.kvDim());
        Buffer storage;
        try {
            storage = lib.allocate(device, Math.max(F32, bytes)); // no layers at all: the output alone (a layer split's -ngl 1)
        } catch (CudaLibrary.NativeException e) {
            throw new IllegalStateException(String.format(java.util.Locale.ROOT,
                    "CUDA%d: no room for a KV cache of %d positions (%.2f GiB; the weights take %.2f GiB): lower -c (%s)",
                    device, capacity, CudaWeights.gib(bytes), CudaWeights.gib(w.bytes), e.getMessage()), e);
        }
        CudaKvCache cache = new CudaKvCache(this, storage, capacity, c.kvDim(), firstLayer);
        caches.add(cache);
        return cache;
    }

    void forget(CudaKvCache cache) {
        caches.remove(cache);
    }

    @Override
    public float[][] forward(int[] tokens, KvCache kv, boolean allLogits) {
        if (firstLayer > 0) throw new IllegalStateException("this CUDA transformer starts at layer " + firstLayer + " and takes the hidden state, not tokens");
        return forward(tokens, null, kv, allLogits);
    }

    /**
     * The GPU segment of a layer split: {@code hidden} (tokens x dim, the state after layer
     * firstLayer - 1) runs through the remaining layers and the output; {@code tokens} give the
     * batch size (their ids are not looked up).
     */
    float[][] forwardHidden(int[] tokens, float[][] hidden, KvCache kv, boolean allLogits) {
        if (firstLayer == 0) throw new IllegalStateException("this CUDA transformer embeds tokens itself");
        if (hidden.length != tokens.length) throw new IllegalArgumentException(hidden.length + " hidden rows for " + tokens.length + " tokens");
        for (float[] row : hidden) if (row.length != c.embeddingLength()) throw new IllegalArgumentException("a hidden row of " + row.length + " values, the model's width is " + c.embeddingLength());
        return forward(tokens, hidden, kv, allLogits);
    }

    private float[][] forward(int[] tokens, float[][] hidden, KvCache kv, boolean allLogits) {
        if (!(kv instanceof CudaKvCache cache) || cache.owner != this) {
            throw new IllegalArgumentException("this KV cache was not made by this CUDA transformer (use its newCache)");
        }
        int n = tokens.length, start = cache.length();
        if (n == 0) throw new IllegalArgumentException("no tokens to evaluate");
        if (start + n > cache.capacity()) {
            throw new IllegalStateException("context size " + cache.capacity() + " exceeded: " + (start + n) + " positions");
        }
        for (int t : tokens) if (t < 0 || t >= c.vocabSize()) throw new IllegalArgumentException("token id " + t + " out of range");
        float[][] logits = n == 1 ? decode(tokens[0], hidden, cache) : batch(tokens, hidden, cache, allLogits);
        cache.extend(start + n);
        return logits;
    }

    /** One token: replays the cache's recorded step (recording it first), or queues it directly. */
    private float[][] decode(int token, float[][] hidden, CudaKvCache cache) {
        int dim = c.embeddingLength();
        MemorySegment up = stage(8 + (hidden == null ? 0 : F32 * dim));
        up.set(ValueLayout.JAVA_INT, 0, token);
        up.set(ValueLayout.JAVA_INT, 4, cache.length());
        // Stream order keeps these uploads ahead of the logits' download into the same host memory.
        step.tokens.upload(0, up.asSlice(0, 8), stream);
        if (hidden != null) {
            MemorySegment.copy(hidden[0], 0, up, ValueLayout.JAVA_FLOAT, 8, dim);
            step.x.upload(0, up.asSlice(8, F32 * dim), stream); // outside the graph, which reads step.x
        }
        prepare(cache);
        boolean timed = false;
        if (decodeGraphs) {
            if (cache.decodeStep == null) cache.decodeStep = record(cache);
            timed = launchStart != null;
            if (timed) launchStart.record(stream);
            cache.decodeStep.launch(stream);
            if (timed) launchEnd.record(stream);
        } else {
            queue(step, cache, 1, false, cache.stepScratch);
        }
        float[][] out = download(step, 1);
        if (timed) {
            gpuMillis += launchStart.millisTo(launchEnd);
            timedSteps++;
        }
        return out;
    }

    /** Allocates what a cache's one-token step needs besides the cache itself. */
    private void prepare(CudaKvCache cache) {
        if (!flash && cache.stepScratch == null) {
            cache.stepScratch = lib.allocate(device, Math.max(F32, lib.attentionPlainScratch(attention(1, cache.capacity()))));
        }
    }

    private CudaLibrary.Graph record(CudaKvCache cache) {
        stream.beginGraph();
        try {
            queue(step, cache, 1, false, cache.stepScratch);
        } catch (RuntimeException e) {
            try {
                stream.endGraph().close();
            } catch (RuntimeException ended) {
                e.addSuppressed(ended);
            }
            throw e;
        }
        return stream.endGraph();
    }

    private float[][] batch(int[] tokens, float[][] hidden, CudaKvCache cache, boolean allLogits) {
        int n = tokens.length, rows = allLogits ? n : 1;
        if (batch == null || batch.capacity < n || batch.logitRows < rows) {
            int capacity = n, logitRows = rows;
            if (batch != null) {
                capacity = Math.max(capacity, batch.capacity);
                logitRows = Math.max(logitRows, batch.logitRows);
                batch.close();
                batch = null;
            }
            batch = new Activations(capacity, logitRows);
        }
        Buffer scratch = null;
        if (!flash) {
            long need = Math.max(F32, lib.attentionPlainScratch(attention(n, cache.capacity())));
            if (batchScratch == null || batchScratch.bytes < need) {
                if (batchScratch != null) batchScratch.close();
                batchScratch = null; // not a freed buffer, should the allocation fail
                batchScratch = lib.allocate(device, need);
            }
            scratch = batchScratch;
        }
        int dim = c.embeddingLength();
        long idBytes = 2L * batch.capacity * Integer.BYTES;
        MemorySegment up = stage(idBytes + (hidden == null ? 0 : F32 * n * dim));
        for (int i = 0; i < n; i++) {
            up.set(ValueLayout.JAVA_INT, 4L * i, tokens[i]);
            up.set(ValueLayout.JAVA_INT, batch.positionsOffset() + 4L * i, cache.length() + i);
        }
        batch.tokens.upload(0, up.asSlice(0, idBytes), stream);
        if (hidden != null) {
            for (int r = 0; r < n; r++) MemorySegment.copy(hidden[r], 0, up, ValueLayout.JAVA_FLOAT, idBytes + F32 * r * dim, dim);
            batch.x.upload(0, up.asSlice(idBytes, F32 * n * dim), stream);
        }
        queue(batch, cache, n, allLogits, scratch);
        float[][] out = download(batch, rows);
        int errors = lib.kernelErrors(device);
        if (errors != 0) throw new IllegalStateException("CUDA" + device + ": kernel errors 0x" + Integer.toHexString(errors) + " in a batch of " + n);
        return out;
    }

    /** Queues one forward pass of n tokens whose ids and positions are in a.tokens; logits go to a.logits. */
    private void queue(Activations a, CudaKvCache cache, int n, boolean allLogits, Buffer scratch) {
        int dim = c.embeddingLength(), hd = c.headDim(), ff = c.feedForwardLength();
        int heads = c.headCount(), kvHeads = c.headCountKv();
        float eps = c.rmsEps();
        long pos = a.positionsOffset();
        Buffer kv = cache.storage;
        RopeParams rq = n == 1 ? ropeQ1 : rope(n, heads), rk = n == 1 ? ropeK1 : rope(n, kvHeads);
        AttentionParams att = attention(n, cache.capacity());
        CudaWeights.Matrix e = w.embedding;
        if (firstLayer == 0) lib.embedding(stream, e.type(), e.buffer(), e.offset(), e.rows(), dim, a.tokens, 0, n, a.x, 0);
        // else a.x already holds the hidden state the CPU segment uploaded
        for (int li = firstLayer; li < c.blockCount(); li++) {
            CudaWeights.Layer l = w.layers[li];
            lib.rmsNorm(stream, a.x, 0, l.attnNorm(), 0, a.xb, 0, n, dim, eps);
            product(l.wq(), a.xb, n, a.q);
            product(l.wk(), a.xb, n, a.k);
            product(l.wv(), a.xb, n, a.v);
            if (l.bq() != null) {
                addBias(a.q, l.bq(), c.qDim(), n, a.att);
                addBias(a.k, l.bk(), c.kvDim(), n, a.att);
                addBias(a.v, l.bv(), c.kvDim(), n, a.att);
            }
            if (l.qNorm() != null) {
                lib.rmsNorm(stream, a.q, 0, l.qNorm(), 0, a.q, 0, n * heads, hd, eps);
                lib.rmsNorm(stream, a.k, 0, l.kNorm(), 0, a.k, 0, n * kvHeads, hd, eps);
            }
            lib.rope(stream, rq, a.q, 0, a.tokens, pos, w.ropeFreqs, 0);
            lib.rope(stream, rk, a.k, 0, a.tokens, pos, w.ropeFreqs, 0);
            long kOff = cache.keysOffset(li), vOff = cache.valuesOffset(li);
            lib.kvStore(stream, a.k, 0, a.v, 0, n, c.kvDim(), kv, kOff, kv, vOff, cache.capacity(), a.tokens, pos);
            if (flash) lib.flashAttention(stream, att, a.q, 0, kv, kOff, kv, vOff, a.tokens, pos, a.att, 0);
            else lib.attentionPlain(stream, att, a.q, 0, kv, kOff, kv, vOff, a.tokens, pos, scratch, 0, a.att, 0);
            product(l.wo(), a.att, n, a.delta);
            lib.add(stream, a.x, 0, a.delta, 0, a.x, 0, (long) n * dim);

            lib.rmsNorm(stream, a.x, 0, l.ffnNorm(), 0, a.xb, 0, n, dim, eps);
            if (host != null && host.runs(li)) {
                feedForwardOnHost(li, a, n);
            } else if (l.experts() != null) {
                mixtureOfExperts(l.experts(), a, n);
            } else {
                product(l.gate(), a.xb, n, a.hg);
                product(l.up(), a.xb, n, a.hu);
                lib.swiglu(stream, a.hg, 0, a.hu, 0, a.hg, 0, (long) n * ff);
                product(l.down(), a.hg, n, a.delta);
            }
            lib.add(stream, a.x, 0, a.delta, 0, a.x, 0, (long) n * dim);
        }
        int first = allLogits ? 0 : n - 1, rows = n - first;
        lib.rmsNorm(stream, a.x, F32 * first * dim, w.outputNorm, 0, a.xb, 0, rows, dim, eps);
        product(w.output, a.xb, rows, a.logits);
    }

    /**
     * A CPU segment: the normed activations (n x dim) come down, layer li's feed-forward runs on
     * the host, its output goes up into a.delta. The stream is idle while the host computes, and
     * the upload is ordered before anything later reuses the staging memory.
     */
    private void feedForwardOnHost(int li, Activations a, int n) {
        int dim = c.embeddingLength();
        long bytes = F32 * n * dim;
        MemorySegment hostRows = stage(bytes);
        a.xb.download(0, hostRows, stream);
        stream.synchronize();
        float[][] x = new float[n][], y = new float[n][dim];
        for (int r = 0; r < n; r++) x[r] = hostRows.asSlice(F32 * r * dim, F32 * dim).toArray(ValueLayout.JAVA_FLOAT);
        host.forward(li, x, y);
        for (int r = 0; r < n; r++) MemorySegment.copy(y[r], 0, hostRows, ValueLayout.JAVA_FLOAT, F32 * r * dim, dim);
        a.delta.upload(0, hostRows, stream);
    }

    /**
     * Layer feed-forward of a mixture of experts into a.delta, on the device: route, the chosen
     * experts' SwiGLU (hidden rows n x k x ff in a.hg/a.hu), their weighted sum with the shared expert.
     */
    private void mixtureOfExperts(CudaWeights.Experts e, Activations a, int n) {
        ModelConfig.Moe moe = c.moe();
        int k = moe.expertsUsed(), dim = c.embeddingLength(), ff = moe.expertFeedForwardLength(), sff = moe.sharedFeedForwardLength();
        productF32(e.router(), a.xb, n, a.routerLogits);
        lib.moeRoute(stream, new MoeRouteParams(n, e.count(), k, moe.normalizeWeights()), a.routerLogits, 0, a.expertIds, 0, a.expertWeights, 0);
        expertProduct(e.gate(), e.count(), a.xb, false, a.expertIds, n, k, a.hg);
        expertProduct(e.up(), e.count(), a.xb, false, a.expertIds, n, k, a.hu);
        lib.swiglu(stream, a.hg, 0, a.hu, 0, a.hg, 0, (long) n * k * ff);
        expertProduct(e.down(), e.count(), a.hg, true, a.expertIds, n, k, a.expertOut);
        boolean shared = e.sharedRouter() != null;
        if (shared) {
            productF32(e.sharedRouter(), a.xb, n, a.sharedGate);
            product(e.sharedGate(), a.xb, n, a.hg);
            product(e.sharedUp(), a.xb, n, a.hu);
            lib.swiglu(stream, a.hg, 0, a.hu, 0, a.hg, 0, (long) n * sff);
            product(e.sharedDown(), a.hg, n, a.sharedOut);
        }
        lib.moeCombine(stream, a.expertOut, 0, a.expertWeights, 0, n, k, dim, shared ? a.sharedOut : null, 0,
                shared ? a.sharedGate : null, 0, a.delta, 0);
    }

    /** y[t][s] = W[ids[t][s]] x[t] (or x[t][s] when xPerSlot): one expert matrix per (token, slot), chosen on the device. */
    private void expertProduct(CudaWeights.Matrix m, int experts, Buffer x, boolean xPerSlot, Buffer ids, int n, int k, Buffer y) {
        lib.gemvExperts(stream, m.type(), m.buffer(), m.offset(), experts, m.rows(), m.cols(), x, 0, xPerSlot, ids, 0, n, k, y, 0);
    }

    /** y = x W^T in F32 whatever n (GEMV in runs of {@value #GEMV_MAX_BATCH} rows): for routing decisions. */
    private void productF32(CudaWeights.Matrix m, Buffer x, int n, Buffer y) {
        for (int r = 0; r < n; r += GEMV_MAX_BATCH) {
            int rows = Math.min(GEMV_MAX_BATCH, n - r);
            lib.gemv(stream, m.type(), m.buffer(), m.offset(), m.rows(), m.cols(), x, F32 * r * m.cols(), rows, y, F32 * r * m.rows());
        }
    }

    /** y (n x rows) = x (n x cols) W^T: GEMV for a few rows, GEMM beyond. */
    private void product(CudaWeights.Matrix m, Buffer x, int n, Buffer y) {
        if (n <= GEMV_MAX_BATCH) lib.gemv(stream, m.type(), m.buffer(), m.offset(), m.rows(), m.cols(), x, 0, n, y, 0);
        else lib.gemm(stream, m.type(), m.buffer(), m.offset(), m.rows(), m.cols(), x, 0, n, y, 0);
    }

    /**
     * y (n x width) += bias on every row. specula_add has no broadcast: for a batch the bias is
     * copied into {@code scratch} n times by doubling copies (log2 n of them), then added at once.
     */
    private void addBias(Buffer y, Buffer bias, int width, int n, Buffer scratch) {
        if (n == 1) {
            lib.add(stream, y, 0, bias, 0, y, 0, width);
            return;
        }
        long row = F32 * width;
        scratch.copyFrom(0, bias, 0, row, stream);
        for (int have = 1; have < n; have *= 2) {
            scratch.copyFrom(have * row, scratch, 0, Math.min(have, n - have) * row, stream);
        }
        lib.add(stream, y, 0, scratch, 0, y, 0, (long) n * width);
    }

    private RopeParams rope(int n, int heads) {
        RopeScaling s = c.ropeScaling();
        return new RopeParams(n, heads, c.headDim(), c.ropeDims(), c.ropeNeox() ? RopeParams.NEOX : RopeParams.NORM,
                c.ropeFreqBase(), s.freqScale(), s.extFactor(), s.attnFactor(), s.betaFast(), s.betaSlow(), s.originalContext());
    }

    private AttentionParams attention(int n, int ctx) {
        return new AttentionParams(n, c.headCount(), c.headCountKv(), c.headDim(), ctx, (float) (1.0 / Math.sqrt(c.headDim())));
    }

    /** Queues the logits' download, waits for the stream, and returns them as rows. */
    private float[][] download(Activations a, int rows) {
        int vocab = c.vocabSize();
        MemorySegment host = stage(F32 * rows * vocab);
        a.logits.download(0, host, stream);
        stream.synchronize();
        float[][] out = new float[rows][];
        for (int r = 0; r < rows; r++) out[r] = host.asSlice(F32 * r * vocab, F32 * vocab).toArray(ValueLayout.JAVA_FLOAT);
        return out;
    }

    /** The first {@code bytes} of the staging memory, grown as needed (only after the stream is idle). */
    private MemorySegment stage(long bytes) {
        if (staging.byteSize() < bytes) staging = arena.allocate(Math.max(bytes, 2 * staging.byteSize()), 64);
        return staging.asSlice(0, bytes);
    }

    /** Frees everything on the device, the caches this transformer made included. Safe to call again. */
    @Override
    public void close() {
        for (CudaKvCache cache : new ArrayList<>(caches)) cache.close();
        for (AutoCloseable r : new AutoCloseable[] {step, batch, batchScratch, launchStart, launchEnd, stream, w, host}) {
            try {
                if (r != null) r.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + backendName() + ": " + e.getMessage(), e);
            }
        }
        batch = null;
        batchScratch = null;
        if (arena.scope().isAlive()) arena.close();
    }

    /** Device buffers of one forward pass of up to {@code capacity} tokens. */
    private final class Activations implements AutoCloseable {
        final int capacity, logitRows;
        /** ids at [0, 4 capacity), positions at {@link #positionsOffset}, int32. */
        final Buffer tokens, x, xb, q, k, v, att, hg, hu, delta, logits;
        /** Mixture of experts (null for a dense model, or when every MoE layer runs on the CPU): router logits, ids and weights (n x k), outputs (n x k x dim), shared expert's output and gate logit. */
        final Buffer routerLogits, expertIds, expertWeights, expertOut, sharedOut, sharedGate;
        private final List<Buffer> all = new ArrayList<>();

        Activations(int capacity, int logitRows) {
            this.capacity = capacity;
            this.logitRows = logitRows;
            try {
                long n = capacity;
                tokens = alloc(2 * n * Integer.BYTES);
                x = alloc(n * c.embeddingLength() * F32);
                xb = alloc(n * c.embeddingLength() * F32);
                q = alloc(n * c.qDim() * F32);
                k = alloc(n * c.kvDim() * F32);
                v = alloc(n * c.kvDim() * F32);
                att = alloc(n * Math.max(c.qDim(), c.kvDim()) * F32);
                ModelConfig.Moe moe = w.hasExperts() ? c.moe() : null;
                // hidden rows: the dense feed-forward's, or k experts' per token, or the shared expert's
                long hidden = Math.max(1, c.feedForwardLength());
                if (moe != null) hidden = Math.max(hidden, Math.max((long) moe.expertsUsed() * moe.expertFeedForwardLength(), moe.sharedFeedForwardLength()));
                hg = alloc(n * hidden * F32);
                hu = alloc(n * hidden * F32);
                delta = alloc(n * c.embeddingLength() * F32);
                logits = alloc((long) logitRows * c.vocabSize() * F32);
                routerLogits = moe == null ? null : alloc(n * moe.expertCount() * F32);
                expertIds = moe == null ? null : alloc(n * moe.expertsUsed() * Integer.BYTES);
                expertWeights = moe == null ? null : alloc(n * moe.expertsUsed() * F32);
                expertOut = moe == null ? null : alloc(n * moe.expertsUsed() * c.embeddingLength() * F32);
                boolean shared = moe != null && moe.sharedFeedForwardLength() > 0;
                sharedOut = shared ? alloc(n * c.embeddingLength() * F32) : null;
                sharedGate = shared ? alloc(n * F32) : null;
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        long positionsOffset() {
            return (long) capacity * Integer.BYTES;
        }

        private Buffer alloc(long bytes) {
            Buffer b = lib.allocate(device, bytes);
            all.add(b);
            return b;
        }

        @Override
        public void close() {
            for (Buffer b : all) b.close();
            all.clear();
        }
    }
}
