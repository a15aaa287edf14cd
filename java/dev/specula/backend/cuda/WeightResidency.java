package dev.specula.backend.cuda;

/**
 * Where a GPU backend keeps a model's weights. On an integrated GPU (Jetson; Apple Silicon under
 * Metal) the CPU and GPU share DRAM, so copying the weights would hold the model in memory twice:
 * the memory-mapped file is registered for the device instead ({@link MappedWeights}). A discrete
 * GPU gets a copy in its own memory, unless {@code --no-copy-weights} asks for the mapped path
 * (every read then crosses PCIe: slow, but it is how that path is tested on a datacenter GPU).
 */
public enum WeightResidency {
    /** Copied into device memory. */
    UPLOAD,
    /** The mapped file registered with specula_buffer_register_host: no copy. */
    MAPPED;

    /**
     * MAPPED on an integrated device that can map host memory, or when {@code noCopyWeights} is
     * asked (an error where the device cannot map host memory); UPLOAD otherwise.
     */
    public static WeightResidency choose(CudaLibrary.Device device, boolean noCopyWeights) {
        if (noCopyWeights && !device.canMapHostMemory()) {
            throw new IllegalArgumentException("--no-copy-weights: device " + device.index() + " (" + device.name()
                    + ") cannot map host memory");
        }
        if (noCopyWeights) return MAPPED;
        return device.integrated() && device.canMapHostMemory() ? MAPPED : UPLOAD;
    }
}
