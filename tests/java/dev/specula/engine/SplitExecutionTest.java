package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;

/** {@link SplitExecutionChecks} on the host emulation of specula.h (no GPU needed). */
class SplitExecutionTest extends SplitExecutionChecks {
    @Override
    CudaLibrary library() {
        return EmulatedCuda.library();
    }
}
