package dev.specula.cli;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.engine.CpuTransformer;
import dev.specula.engine.CudaTransformer;
import dev.specula.engine.Transformer;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import picocli.CommandLine.Option;

/**
 * Where {@code run} and {@code bench} compute: {@code --device cpu} (the default) or
 * {@code --device cuda} (the whole model on CUDA0; an error where there is no GPU).
 *
 * <p>The seam for tensor placement (issue 6): its options ({@code -ngl N}, {@code -ot}) are not
 * parsed here; they set {@link #gpuLayers}, and {@link #choose} applies llama.cpp's rule as far as
 * a whole-model backend can: N at least the layer count (llama.cpp's {@code -ngl 99} or
 * {@code all}) runs everything on the GPU, and where there is none that is a one-line warning and
 * the CPU runs; 0 runs on the CPU; a partial offload is refused until placement exists.
 */
final class DeviceOption {
    enum Backend { CPU, CUDA }

    @Option(names = "--device", paramLabel = "cpu|cuda",
            description = "compute on the CPU (default) or on CUDA0, the whole model: weights and KV cache on the GPU")
    String device = "cpu";

    @Option(names = "--no-copy-weights", description = "GPU: read the weights from the mapped file (registered host memory) instead of "
            + "copying them to the device; the default on integrated GPUs (Jetson), slow over PCIe elsewhere")
    boolean noCopyWeights;

    /** Layers asked for the GPU by the placement options (-ngl), or null where none was given. */
    Integer gpuLayers;

    /** The CUDA library the commands use: the one {@link CudaLibrary#load} finds, or a stand-in set by tests. */
    static volatile Supplier<Optional<CudaLibrary>> cudaLibrary = CudaLibrary::load;

    /** The backend for a model of {@code layers} layers; warns on {@code err} when -ngl asks for a GPU there is not. */
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
        if (gpuLayers == null || gpuLayers <= 0) return Backend.CPU;
        if (gpuLayers < layers) {
            throw new UserError("-ngl " + gpuLayers + " offloads part of the model's " + layers
                    + " layers; partial offload is not supported yet (use -ngl " + layers + " or more for all, 0 for none)");
        }
        String why = cudaUnavailable();
        if (why == null) return Backend.CUDA;
        err.println("specula: warning: -ngl " + gpuLayers + " asks for the GPU, but " + why + "; running on the CPU");
        err.flush();
        return Backend.CPU;
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
        CudaTransformer t;
        try {
            t = CudaTransformer.open(cudaLibrary.get(), c, w, flash, noCopyWeights);
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new UserError(e.getMessage());
        }
        String where = t.weightResidency() == WeightResidency.MAPPED ? "weights read from the mapped file (" + Units.bytes(t.weightBytes()) + " copied)"
                : Units.bytes(t.weightBytes()) + " of weights on the GPU";
        err.printf(Locale.ROOT, "specula: %s (%s): %s%s%n", t.backendName(), t.deviceName(), where,
                flash && !t.flashAttention() ? "; FlashAttention takes head sizes 64, 80, 96 and 128, this model's is "
                        + c.headDim() + ": plain attention" : "");
        err.flush();
        return t;
    }
}
