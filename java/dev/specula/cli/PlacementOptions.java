package dev.specula.cli;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.placement.ByteSize;
import dev.specula.placement.PlacementException;
import dev.specula.placement.PlacementFit;
import dev.specula.placement.PlacementPlan;
import dev.specula.placement.PlacementRequest;
import dev.specula.placement.TensorOverride;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * llama.cpp's placement flags, shared by run, bench and info: {@code -ngl}, {@code -ot},
 * {@code --cpu-moe}, {@code --n-cpu-moe}, plus a GPU memory budget ({@code --gpu-mem}) and
 * {@code --fit}. The -ot rules come first, then the --cpu-moe / --n-cpu-moe ones (all of those
 * say CPU, so their order among themselves does not matter); the first match wins.
 */
final class PlacementOptions {
    @Option(names = {"-ngl", "--gpu-layers", "--n-gpu-layers"}, paramLabel = "N|all",
            description = "layers on the GPU, counting the output layer as one after the repeating ones, as llama.cpp: "
                    + "the last N go there (all, or more than the layer count: everything)")
    String gpuLayers;

    @Option(names = {"-ot", "--override-tensor"}, paramLabel = "REGEX=DEVICE[,...]",
            description = "put tensors whose name matches REGEX on DEVICE (CPU, CUDA0, ...); repeatable; the first match wins")
    List<String> overrides = new ArrayList<>();

    @Option(names = {"-cmoe", "--cpu-moe"}, description = "keep every mixture-of-experts expert tensor on the CPU")
    boolean cpuMoe;

    @Option(names = {"-ncmoe", "--n-cpu-moe"}, paramLabel = "N", description = "keep the expert tensors of the first N layers on the CPU")
    Integer nCpuMoe;

    @Option(names = "--gpu-mem", paramLabel = "SIZE", description = "GPU memory the plan may use (e.g. 20GiB, 500MiB; default: the GPU's free memory)")
    String gpuMem;

    @Option(names = "--fit", description = "choose the placement the cost model predicts fastest within the GPU budget, and say why")
    boolean fit;

    /** True where any placement flag but -ngl was given. */
    boolean beyondLayers() {
        return !overrides.isEmpty() || cpuMoe || nCpuMoe != null || gpuMem != null || fit;
    }

    /** -ngl as a number (all: {@link PlacementRequest#ALL_LAYERS}), or null where not given. */
    Integer layers() {
        if (gpuLayers == null) return null;
        String v = gpuLayers.strip().toLowerCase(Locale.ROOT);
        if (v.equals("all")) return PlacementRequest.ALL_LAYERS;
        try {
            int n = Integer.parseInt(v);
            if (n < 0) throw new NumberFormatException();
            return n;
        } catch (NumberFormatException e) {
            throw new UserError("-ngl: expected a number of layers >= 0 or all, got '" + gpuLayers + "'");
        }
    }

    /** True where an -ot rule names a GPU (which is an error on a machine without one). */
    boolean namesGpu() {
        return rules().stream().anyMatch(r -> !r.device().equals(TensorOverride.Devices.CPU));
    }

    List<TensorOverride> rules() {
        List<TensorOverride> rules = new ArrayList<>();
        try {
            for (String o : overrides) rules.addAll(TensorOverride.parse(o));
            if (cpuMoe) rules.add(TensorOverride.cpuMoe());
            if (nCpuMoe != null) rules.addAll(TensorOverride.cpuMoe(nCpuMoe));
        } catch (PlacementException e) {
            throw new UserError(e.getMessage());
        }
        return rules;
    }

    /** The GPU's budget: --gpu-mem, else CUDA0's free memory where there is one, else unlimited. */
    long budget(Optional<CudaLibrary> library) {
        if (gpuMem != null) {
            try {
                return ByteSize.parse(gpuMem);
            } catch (IllegalArgumentException e) {
                throw new UserError("--gpu-mem: " + e.getMessage());
            }
        }
        try {
            if (library.isPresent() && library.get().deviceCount() > 0) return library.get().device(0).freeMemory();
        } catch (RuntimeException e) {
            // no usable device: no budget to hold the plan to
        }
        return Long.MAX_VALUE;
    }

    /**
     * The plan for this file (with {@code --fit}: the chosen one, its reasons in {@code reasons}),
     * refused in one line where it does not fit the budget.
     */
    PlacementPlan plan(GgufFile f, ModelConfig c, int context, int kvBytesPerElement, int batch, long budget, List<String> reasons) {
        PlacementPlan plan = unchecked(f, c, context, kvBytesPerElement, batch, budget, reasons);
        try {
            return plan.requireFits();
        } catch (PlacementException e) {
            throw new UserError(f.path().getFileName() + ": " + e.getMessage());
        }
    }

    /** As {@link #plan}, without the budget check (info prints a plan that does not fit, then says so). */
    PlacementPlan unchecked(GgufFile f, ModelConfig c, int context, int kvBytesPerElement, int batch, long budget, List<String> reasons) {
        try {
            PlacementRequest r = new PlacementRequest(layers(), rules(), "CUDA0", budget, context, kvBytesPerElement, batch);
            if (fit) {
                List<PlacementPlan.TensorSize> sizes = f.tensors().stream().map(t -> new PlacementPlan.TensorSize(t.name(), t.byteSize())).toList();
                PlacementFit.Result result = PlacementFit.fit(sizes, c, r);
                reasons.addAll(result.reasons());
                return result.plan();
            }
            return PlacementPlan.of(f, c, r);
        } catch (PlacementException e) {
            throw new UserError(f.path().getFileName() + ": " + e.getMessage());
        }
    }
}
