package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;

/** {@link GpuExpertsChecks} on the host emulation of specula.h (no GPU needed). */
class GpuExpertsTest extends GpuExpertsChecks {
    @Override
    CudaLibrary library() {
        return EmulatedCuda.library();
    }
}
