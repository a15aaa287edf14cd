package dev.specula.placement;

import java.util.List;

/**
 * What the user asked for, before any weight moves.
 *
 * @param gpuLayers         {@code -ngl N}: null where not given (nothing offloaded by layer); {@link #ALL_LAYERS} for {@code all}
 * @param overrides         {@code -ot} rules, then the {@code --cpu-moe} / {@code --n-cpu-moe} rules; the first match wins
 * @param gpu               the GPU the layers go to (CUDA0, METAL0)
 * @param gpuBudget         bytes the GPU may hold ({@code --gpu-mem}, or its free memory); {@link Long#MAX_VALUE} where unknown
 * @param context           KV cache positions ({@code -c})
 * @param kvBytesPerElement 2 for an F16 KV cache, 4 for F32
 * @param batch             tokens per forward pass ({@code -b}): sizes the working buffers
 */
public record PlacementRequest(Integer gpuLayers, List<TensorOverride> overrides, String gpu, long gpuBudget,
                               int context, int kvBytesPerElement, int batch) {
    public static final int ALL_LAYERS = Integer.MAX_VALUE;

    public PlacementRequest {
        overrides = List.copyOf(overrides);
        if (gpuLayers != null && gpuLayers < 0) throw new PlacementException("-ngl " + gpuLayers + ": expected a number of layers >= 0 or all");
        if (context < 1) throw new PlacementException("context size " + context + " must be positive");
        if (batch < 1) throw new PlacementException("batch size " + batch + " must be positive");
    }

    /** Nothing on a GPU: every tensor, the KV cache and the buffers on the CPU. */
    public static PlacementRequest cpuOnly(int context, int kvBytesPerElement, int batch) {
        return new PlacementRequest(null, List.of(), "CUDA0", Long.MAX_VALUE, context, kvBytesPerElement, batch);
    }

    public PlacementRequest withGpuLayers(Integer n) {
        return new PlacementRequest(n, overrides, gpu, gpuBudget, context, kvBytesPerElement, batch);
    }

    public PlacementRequest withOverrides(List<TensorOverride> rules) {
        return new PlacementRequest(gpuLayers, rules, gpu, gpuBudget, context, kvBytesPerElement, batch);
    }
}
