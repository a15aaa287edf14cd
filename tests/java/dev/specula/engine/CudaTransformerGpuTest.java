package dev.specula.engine;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.gguf.GgmlType;
import org.junit.jupiter.api.Tag;

/**
 * {@link CudaParityChecks} on a real GPU through libspecula_cuda (run by tools/gpu-suite on the
 * GPU machine). Skips, saying why, without the library, a device, or the kernels.
 */
@Tag("gpu")
class CudaTransformerGpuTest extends CudaParityChecks {
    @Override
    CudaLibrary library() {
        var lib = CudaLibrary.load();
        assumeTrue(lib.isPresent(), () -> "no GPU test: no " + CudaLibrary.FILE_NAME + " built (" + CudaLibrary.candidates() + ")");
        CudaLibrary cuda = lib.get();
        assumeTrue(cuda.deviceCount() > 0, () -> "no GPU test: no CUDA device (" + cuda.lastError() + ")");
        assumeTrue(cuda.typeSupported(GgmlType.F32.id), "no GPU test: the matrix kernels are not in this build (specula_type_supported(F32) is 0)");
        return cuda;
    }
}
