package dev.specula.engine;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;

/** {@link LayerSplitChecks} on the host emulation of specula.h (no GPU needed). */
class LayerSplitTest extends LayerSplitChecks {
    @Override
    CudaLibrary library() {
        return EmulatedCuda.library();
    }
}
