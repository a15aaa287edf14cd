package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import org.junit.jupiter.api.Tag;

/** {@link GpuExpertsChecks} on a real GPU (tools/gpu-suite); skips, saying why, as {@link CudaTransformerGpuTest} does. */
@Tag("gpu")
class GpuExpertsGpuTest extends GpuExpertsChecks {
    @Override
    CudaLibrary library() {
        return new CudaTransformerGpuTest().library();
    }
}
