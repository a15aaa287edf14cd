package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;
import dev.specula.backend.cuda.WeightResidency;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link GpuExpertsChecks} on the host emulation of specula.h (no GPU needed). */
class GpuExpertsTest extends GpuExpertsChecks {
    @Override
    CudaLibrary library() {
        return EmulatedCuda.library();
    }

    /** Metal exports the MoE functions but has no kernels for them: experts placed there are refused before any weight moves. */
    @Test
    void expertsOnTheMetalBackendAreRefusedInOneLineNamingTheLayer(@TempDir Path dir) {
        Path file = MoeReferenceTest.make(dir.resolve("qwen3moe-tiny.gguf"), "qwen3moe-tiny");
        try (GgufFile f = GgufFile.open(file)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            var e = assertThrows(IllegalArgumentException.class, () -> new CudaTransformer(EmulatedCuda.asMetal(), 0, c, w, false,
                    WeightResidency.UPLOAD, new boolean[] {true, false}, 1));
            assertTrue(e.getMessage().startsWith("qwen3moe layer 1: its experts would be on METAL, whose backend has no expert kernels yet"), e.getMessage());
            try (CudaTransformer split = new CudaTransformer(EmulatedCuda.asMetal(), 0, c, w, false, WeightResidency.UPLOAD, new boolean[] {true, true}, 1)) {
                assertTrue(split.split(), "experts on the CPU still run there");
            }
        }
    }
}
