package dev.specula.model;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {
    @TempDir Path tmp;

    @Test
    void storiesConfigMatchesItsMetadataAndShapes() {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            ModelConfig c = ModelConfig.from(f);
            assertEquals("llama", c.architecture());
            assertEquals(64, c.embeddingLength());
            assertEquals(172, c.feedForwardLength());
            assertEquals(5, c.blockCount());
            assertEquals(8, c.headCount());
            assertEquals(4, c.headCountKv());
            assertEquals(8, c.headDim());
            assertEquals(2, c.groupSize());
            assertEquals(512, c.vocabSize());
            assertFalse(c.ropeNeox());
            assertFalse(c.tiedOutput());
            assertEquals(1e-5f, c.rmsEps());
        }
    }

    @Test
    void unsupportedArchitectureIsNamed() throws IOException {
        Path p = tmp.resolve("bert.gguf");
        new GgufWriter().putString("general.architecture", "bert").write(p);
        try (GgufFile f = GgufFile.open(p)) {
            var e = assertThrows(GgufFormatException.class, () -> ModelConfig.from(f));
            assertEquals("bert.gguf: architecture 'bert' is not supported (Specula runs llama, qwen2, qwen3)", e.getMessage());
        }
    }
}
