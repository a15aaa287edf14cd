package dev.specula.cli;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.engine.CpuTransformer;
import dev.specula.engine.CudaTransformer;
import dev.specula.engine.LayerSplitTransformer;
import dev.specula.engine.Transformer;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.engine.KvCache;
import dev.specula.gguf.GgufFile;
import dev.specula.placement.PlacementException;
import dev.specula.placement.PlacementPlan;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Where {@code run} and {@code bench} compute: {@code --device cpu} (the default) or
 * {@code --device cuda} (the whole model on CUDA0; an error where there is no GPU).
 *
 * <p>Tensor placement ({@link PlacementOptions}: {@code -ngl}, {@code -ot}, {@code --cpu-moe},
 * {@code --n-cpu-moe}, {@code --gpu-mem}, {@code --fit}) is planned before any weight moves
 * ({@link PlacementPlan}) and checked against the GPU's budget. A plan that keeps everything on
 * one device runs there; one that keeps only some layers' feed-forward on the CPU runs split
 * ({@link CudaTransformer} with host feed-forward); a split by layer (partial -ngl, or -ot sending
 * the first layers' tensors to the CPU) runs as {@link LayerSplitTransformer}, its GPU layers
 * possibly with host feed-forward too; any other split is refused in one line naming why. As
 * llama.cpp, -ngl without a GPU is a one-line warning and the CPU runs; an -ot rule naming a GPU,
 * or --fit, is an error there.
 */
final class DeviceOption {
    enum Backend { CPU, CUDA }

    @Option(names = "--device", paramLabel = "cpu|cuda",
            description = "compute on the CPU (default) or on CUDA0, the whole model: weights and KV cache on the GPU")
    String device = "cpu";

    @Option(names = "--no-copy-weights", description = "GPU: read the weights from the mapped file (registered host memory) instead of "
            + "copying them to the device; the default on integrated GPUs (Jetson), slow over PCIe elsewhere")
    boolean noCopyWeights;

    @Mixin
    PlacementOptions placement = new PlacementOptions();

    /** Layers asked for the GPU (-ngl; tests set it directly), or null where none was given. */
    Integer gpuLayers;

    private Integer layers() {
        return gpuLayers != null ? gpuLayers : placement.layers();
    }

    /** The CUDA library the commands use: the one {@link CudaLibrary#load} finds, or a stand-in set by tests. */
    static volatile Supplier<Optional<CudaLibrary>> cudaLibrary = CudaLibrary::load;

    /**
     * The backend for this model under the placement flags: the plan is made and checked against
     * the budget first (a one-line error naming what does not fit), then it must be all on one device.
     */
    Backend choose(GgufFile f, ModelConfig c, int context, KvCache.Precision precision, int batch, PrintWriter err) {
        if (!placement.beyondLayers() && gpuLayers == null && placement.gpuLayers == null) return choose(c.blockCount(), err);
        if (!device.equalsIgnoreCase("cpu")) throw new UserError("--device " + device + " puts the whole model on the GPU; give it or placement flags (-ngl, -ot, --cpu-moe, --fit), not both");
        String why = cudaUnavailable();
        if (why != null && (placement.namesGpu() || placement.fit)) {
            throw new UserError((placement.fit ? "--fit" : "-ot") + " places tensors on CUDA0, but " + why);
        }
        if (why != null) return choose(c.blockCount(), err); // -ngl alone: llama.cpp's warning, then the CPU
        List<String> reasons = new ArrayList<>();
        PlacementPlan plan = placement.plan(f, c, context, precision == KvCache.Precision.F16 ? 2 : 4, batch,
                placement.budget(cudaLibrary.get()), reasons);
        for (String r : reasons) err.println("specula: fit: " + r);
        err.flush();
        if (plan.gpus().isEmpty()) return Backend.CPU;
        boolean[] host = plan.hostFeedForwardLayers();
        if (host == null) {
            PlacementPlan.LayerSplit split;
            try {
                split = plan.layerSplit();
            } catch (PlacementException e) {
                PlacementPlan.Usage gpu = plan.usage().get("CUDA0"), cpu = plan.usage().get("CPU");
                throw new UserError("this placement splits the model between the CPU (" + Units.bytes(cpu.weights()) + " of weights) and CUDA0 ("
                        + Units.bytes(gpu.weights()) + ") in a way Specula does not run: " + e.getMessage() + " (specula info --placement shows the plan)");
            }
            // The embedding stays on the CPU (where layer 0 runs), as the plan has it: nothing more to fit.
            layerSplit = split;
            hostFeedForward = split.hostFeedForward();
            plannedFor = c;
            return Backend.CUDA;
        }
        // The CUDA backend keeps the token embedding on the GPU too (a lookup kernel), which llama.cpp's rule leaves on the CPU.
        // (A tied output already counts it on the GPU, and the backend uploads it once.)
        long embedding = c.tiedOutput() ? 0 : f.requireTensor("token_embd.weight").byteSize();
        try {
            plan.requireFits(embedding, "the token embedding (the CUDA backend looks tokens up there)");
        } catch (PlacementException e) {
            throw new UserError(f.path().getFileName() + ": " + e.getMessage());
        }
        if (plan.allOn("CUDA0")) return Backend.CUDA;
        layerSplit = null;
        hostFeedForward = host;
        plannedFor = c;
        return Backend.CUDA;
    }

    /** The feed-forward layers the chosen plan keeps on the CPU (split execution), for the model it was made for; else null. */
    private boolean[] hostFeedForward;
    /** The layer split the chosen plan is (layers [0, k) on the CPU), or null. */
    private PlacementPlan.LayerSplit layerSplit;
    private ModelConfig plannedFor;

    /**
     * The backend for a model of {@code layers} layers under -ngl alone (llama.cpp's rule: the
     * output layer counts as one, so everything is on the GPU from -ngl layers+1); warns on
     * {@code err} when -ngl asks for a GPU there is not.
     */
    Backend choose(int layers, PrintWriter err) {
        String d = device.toLowerCase(Locale.ROOT);
        boolean explicitCuda = switch (d) {
            case "cuda", "cuda0", "metal", "gpu" -> true; // the platform's GPU library (CudaLibrary.platformBackend)
            case "cpu" -> false;
            default -> throw new UserError("--device: expected cpu or cuda (metal, gpu), got '" + device + "'");
        };
        if (explicitCuda) {
            String why = cudaUnavailable();
            if (why != null) throw new UserError("--device cuda: " + why);
            return Backend.CUDA;
        }
        Integer ngl = layers();
        if (ngl == null || ngl <= 0) return Backend.CPU;
        String why = cudaUnavailable();
        if (why != null) {
            err.println("specula: warning: -ngl " + (ngl == Integer.MAX_VALUE ? "all" : ngl) + " asks for the GPU, but " + why + "; running on the CPU");
            err.flush();
            return Backend.CPU;
        }
        if (ngl <= layers) {
            // Commands plan a partial -ngl from the model file (choose(GgufFile, ...): a layer split); a layer count alone cannot.
            throw new UserError("-ngl " + ngl + " offloads the output and the last " + (ngl - 1) + " of the model's " + layers
                    + " layers: a split by layer, which needs the model's placement plan");
        }
        return Backend.CUDA;
    }

    private static String cudaUnavailable() {
        try {
            return CudaTransformer.unavailable(cudaLibrary.get());
        } catch (RuntimeException | LinkageError e) {
            return "the CUDA library does not load: " + e.getMessage();
        }
    }

    /** The transformer on {@code backend} (from {@link #choose}); says on {@code err} what runs where when it is not the CPU. */
    Transformer open(Backend backend, ModelConfig c, ModelWeights w, int threads, boolean flash, PrintWriter err) {
        if (backend == Backend.CPU) return new CpuTransformer(c, w, threads, flash);
        if (c == plannedFor && layerSplit != null) return openLayerSplit(c, w, threads, flash, err);
        CudaTransformer t;
        boolean[] host = c == plannedFor ? hostFeedForward : null;
        try {
            if (host == null) t = CudaTransformer.open(cudaLibrary.get(), c, w, flash, noCopyWeights);
            else {
                CudaLibrary lib = cudaLibrary.get().orElseThrow();
                t = new CudaTransformer(lib, 0, c, w, flash, WeightResidency.choose(lib.device(0), noCopyWeights), host, threads);
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new UserError(e.getMessage());
        }
        String where = t.weightResidency() == WeightResidency.MAPPED ? "weights read from the mapped file (" + Units.bytes(t.weightBytes()) + " copied)"
                : Units.bytes(t.weightBytes()) + " of weights on the GPU";
        if (t.split()) {
            int layers = 0;
            for (boolean h : host) if (h) layers++;
            where += "; the feed-forward of " + layers + " of " + c.blockCount() + " layers on the CPU (split: activations copied at each boundary)";
        }
        err.printf(Locale.ROOT, "specula: %s (%s): %s%s%n", t.backendName(), t.deviceName(), where, plainAttention(c, flash, t));
        err.flush();
        return t;
    }

    private static String plainAttention(ModelConfig c, boolean flash, CudaTransformer t) {
        return flash && !t.flashAttention() ? "; FlashAttention takes head sizes 64, 80, 96 and 128, this model's is "
                + c.headDim() + ": plain attention" : "";
    }

    /** The layer split of the chosen plan; says on {@code err} which layers run where. */
    private Transformer openLayerSplit(ModelConfig c, ModelWeights w, int threads, boolean flash, PrintWriter err) {
        CudaLibrary lib = cudaLibrary.get().orElseThrow();
        int k = layerSplit.cpuLayers(), n = c.blockCount();
        LayerSplitTransformer t;
        try {
            t = new LayerSplitTransformer(lib, 0, c, w, flash, WeightResidency.choose(lib.device(0), noCopyWeights), k, layerSplit.hostFeedForward(), threads);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new UserError(e.getMessage());
        }
        CudaTransformer g = t.gpu();
        int hostFfn = 0;
        for (boolean h : layerSplit.hostFeedForward()) if (h) hostFfn++;
        String gpuPart = k == n ? "the output" : (k == n - 1 ? "layer " + k : "layers " + k + "-" + (n - 1)) + ", their KV cache and the output";
        err.printf(Locale.ROOT, "specula: split by layer: CPU: the token embedding and %s with their KV cache; %s (%s): %s (%s of weights%s); "
                        + "the hidden state copied up after layer %d%s%n",
                k == 1 ? "layer 0" : "layers 0-" + (k - 1), g.backendName(), g.deviceName(), gpuPart,
                g.weightResidency() == WeightResidency.MAPPED ? "mapped, " + Units.bytes(g.weightBytes()) + " copied" : Units.bytes(g.weightBytes()),
                hostFfn == 0 ? "" : "; the feed-forward of " + hostFfn + " of them on the CPU", k - 1,
                plainAttention(c, flash, g));
        err.flush();
        return t;
    }
}
