package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA transformer's Java side on the host emulation of specula.h (no GPU needed): the
 * parity checks of {@link CudaParityChecks}, and the errors a user can meet.
 */
class CudaTransformerTest extends CudaParityChecks {
    @Override
    CudaLibrary library() {
        return EmulatedCuda.library();
    }

    @Test
    void aMatrixTypeTheKernelsDoNotTakeIsAnErrorNamingTheTensorAndType(@TempDir Path dir) {
        Path model = makeModel(dir, "llama", "q5_0");
        try (GgufFile f = GgufFile.open(model)) {
            ModelConfig c = ModelConfig.from(f);
            ModelWeights w = new ModelWeights(f, c);
            var e = assertThrows(IllegalArgumentException.class, () -> new CudaTransformer(library(), 0, c, w, false));
            assertTrue(e.getMessage().startsWith("tensor 'token_embd.weight' has type Q5_0, which the CUDA kernels do not take"), e.getMessage());
            assertTrue(e.getMessage().contains("Q4_0, Q8_0"), e.getMessage());
        }
    }

    @Test
    void theCacheIsF16AndBelongsToItsTransformer() {
        try (Pair p = open(TestFiles.model("stories260K.gguf"), false); Pair q = open(TestFiles.model("stories260K.gguf"), false)) {
            var e = assertThrows(IllegalArgumentException.class, () -> p.gpu().newCache(16, KvCache.Precision.F32));
            assertTrue(e.getMessage().contains("F16"), e.getMessage());
            KvCache other = q.gpu().newCache(16, KvCache.Precision.F16);
            assertThrows(IllegalArgumentException.class, () -> p.gpu().forward(new int[] {1}, other, false));
            assertThrows(IllegalArgumentException.class, () -> p.cpu().forward(new int[] {1}, other, false));
            assertThrows(IllegalArgumentException.class, () -> p.gpu().forward(new int[] {1}, new KvCache(p.config(), 16, KvCache.Precision.F16), false));
        }
    }

    @Test
    void overflowingTheContextAndBadTokensAreClearErrors() {
        try (Pair p = open(TestFiles.model("stories260K.gguf"), true)) {
            KvCache cache = p.gpu().newCache(4, KvCache.Precision.F16);
            var e = assertThrows(IllegalStateException.class, () -> p.gpu().forward(new int[] {1, 2, 3, 4, 5}, cache, false));
            assertTrue(e.getMessage().contains("context size 4 exceeded"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> p.gpu().forward(new int[] {1, 512}, cache, false));
            assertEquals(0, cache.length());
            assertFalse(p.gpu().flashAttention(), "head size 8 runs plain attention");
        }
    }
}
