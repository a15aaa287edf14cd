package dev.specula.model;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufFormatException;
import dev.specula.gguf.GgufWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
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
            assertEquals("bert.gguf: architecture 'bert' is not supported (Specula runs llama, qwen2, qwen2moe, qwen3, qwen3moe)", e.getMessage());
        }
    }

    /** A structurally complete llama GGUF with no layers (tied output) plus whatever {@code extra} adds. */
    private Path tinyLlama(String name, UnaryOperator<GgufWriter> extra) throws IOException {
        Path p = tmp.resolve(name);
        GgufWriter w = new GgufWriter().putString("general.architecture", "llama")
                .putUInt32("llama.embedding_length", 16).putUInt32("llama.attention.head_count", 2)
                .putUInt32("llama.feed_forward_length", 32).putUInt32("llama.block_count", 0)
                .putUInt32("llama.context_length", 4096).putUInt32("llama.rope.dimension_count", 8)
                .addF32Tensor("token_embd.weight", new long[] {16, 4}, new float[64])
                .addF32Tensor("output_norm.weight", new long[] {16}, new float[16]);
        extra.apply(w).write(p);
        return p;
    }

    private RopeScaling scalingOf(Path p) {
        try (GgufFile f = GgufFile.open(p)) {
            return ModelConfig.from(f).ropeScaling();
        }
    }

    @Test
    void yarnKeysAreReadWithLlamaCppDefaults() throws IOException {
        RopeScaling s = scalingOf(tinyLlama("yarn.gguf", w -> w.putString("llama.rope.scaling.type", "yarn")
                .putFloat32("llama.rope.scaling.factor", 4f).putUInt32("llama.rope.scaling.original_context_length", 1024)));
        assertEquals(RopeScaling.Type.YARN, s.type());
        assertEquals(4f, s.factor());
        assertEquals(0.25f, s.freqScale());
        assertEquals(1024, s.originalContext());
        assertEquals(1f, s.extFactor(), "llama.cpp: ext_factor defaults to 1 for yarn");
        assertEquals(32f, s.betaFast());
        assertEquals(1f, s.betaSlow());
        // llama.cpp sets attn_factor = mscale(4) / (1 + 0.1 ln 4) = 1; ggml multiplies 1 + 0.1 ln 4 back in.
        assertEquals(1f, s.attnFactor(), 1e-6f);
        assertEquals(1 + 0.1 * Math.log(4), s.magnitude(), 1e-6);

        s = scalingOf(tinyLlama("yarn2.gguf", w -> w.putString("llama.rope.scaling.type", "yarn")
                .putFloat32("llama.rope.scaling.factor", 2f).putFloat32("llama.rope.scaling.yarn_beta_fast", 16f)
                .putFloat32("llama.rope.scaling.yarn_beta_slow", 2f).putFloat32("llama.rope.scaling.attn_factor", 0.5f)));
        assertEquals(4096, s.originalContext(), "original context defaults to the model's");
        assertEquals(16f, s.betaFast());
        assertEquals(2f, s.betaSlow());
        assertEquals(0.5f, s.attnFactor(), 1e-6f, "rope.scaling.attn_factor multiplies the attention factor");
        assertEquals(0.5 * (1 + 0.1 * Math.log(2)), s.magnitude(), 1e-6);

        s = scalingOf(tinyLlama("yarn0.gguf", w -> w.putString("llama.rope.scaling.type", "yarn")
                .putFloat32("llama.rope.scaling.factor", 2f).putFloat32("llama.rope.scaling.yarn_ext_factor", 0f)
                .putFloat32("llama.rope.scaling.yarn_attn_factor", 0.8f)));
        assertEquals(0f, s.extFactor());
        assertEquals(0.8f, s.attnFactor(), "with ext_factor 0 the file's yarn_attn_factor is used as it is");
        assertEquals(0.8f, s.magnitude());
    }

    @Test
    void linearNoneAndMissingTypes() throws IOException {
        RopeScaling s = scalingOf(tinyLlama("lin.gguf", w -> w.putString("llama.rope.scaling.type", "linear")
                .putFloat32("llama.rope.scaling.factor", 2f)));
        assertEquals(RopeScaling.Type.LINEAR, s.type());
        assertEquals(0.5f, s.freqScale());
        assertEquals(0f, s.extFactor());
        assertEquals(1f, s.magnitude());
        // llama.cpp's missing type is linear, so a bare factor (or the old scale_linear key) applies.
        s = scalingOf(tinyLlama("bare.gguf", w -> w.putFloat32("llama.rope.scale_linear", 8f)));
        assertEquals(RopeScaling.Type.LINEAR, s.type());
        assertEquals(8f, s.factor());
        s = scalingOf(tinyLlama("none.gguf", w -> w.putString("llama.rope.scaling.type", "none")
                .putFloat32("llama.rope.scaling.factor", 8f)));
        assertEquals(RopeScaling.none(4096), s, "type none never scales");
        s = scalingOf(tinyLlama("plain.gguf", w -> w));
        assertEquals(RopeScaling.none(4096), s);
    }

    @Test
    void unsupportedScalingTypesAndFactorsAreOneLineErrors() throws IOException {
        Path p = tinyLlama("longrope.gguf", w -> w.putString("llama.rope.scaling.type", "longrope"));
        var e = assertThrows(GgufFormatException.class, () -> scalingOf(p));
        assertEquals("longrope.gguf: llama.rope.scaling.type 'longrope' is not supported (Specula supports none, linear, yarn)",
                e.getMessage());
        Path q = tinyLlama("neg.gguf", w -> w.putString("llama.rope.scaling.type", "yarn").putFloat32("llama.rope.scaling.factor", -2f));
        e = assertThrows(GgufFormatException.class, () -> scalingOf(q));
        assertTrue(e.getMessage().contains("llama.rope.scaling.factor -2.0"), e.getMessage());
    }

    @Test
    void ropeFreqsAreLoadedAndTheirShapeChecked() throws IOException {
        Path ok = tinyLlama("ff.gguf", w -> w.addF32Tensor("rope_freqs.weight", new long[] {4}, new float[] {1, 2, 4, 8}));
        try (GgufFile f = GgufFile.open(ok)) {
            assertArrayEquals(new float[] {1, 2, 4, 8}, new ModelWeights(f, ModelConfig.from(f)).ropeFreqs);
        }
        try (GgufFile f = GgufFile.open(tinyLlama("noff.gguf", w -> w))) {
            assertNull(new ModelWeights(f, ModelConfig.from(f)).ropeFreqs);
        }
        Path bad = tinyLlama("badff.gguf", w -> w.addF32Tensor("rope_freqs.weight", new long[] {8}, new float[8]));
        try (GgufFile f = GgufFile.open(bad)) {
            ModelConfig c = ModelConfig.from(f);
            var e = assertThrows(GgufFormatException.class, () -> new ModelWeights(f, c));
            assertTrue(e.getMessage().contains("tensor 'rope_freqs.weight' has shape [8], expected [4]"), e.getMessage());
        }
        Path zero = tinyLlama("zeroff.gguf", w -> w.addF32Tensor("rope_freqs.weight", new long[] {4}, new float[] {1, 0, 1, 1}));
        try (GgufFile f = GgufFile.open(zero)) {
            ModelConfig c = ModelConfig.from(f);
            var e = assertThrows(GgufFormatException.class, () -> new ModelWeights(f, c));
            assertTrue(e.getMessage().contains("'rope_freqs.weight' value 1 is 0.0"), e.getMessage());
        }
    }

    /** A header-only model of {@code arch} (no layers) with the given expert keys. */
    private ModelConfig moeConfig(String arch, UnaryOperator<GgufWriter> keys) throws IOException {
        Path p = tmp.resolve(arch + System.nanoTime() + ".gguf");
        GgufWriter w = new GgufWriter().putString("general.architecture", arch)
                .putUInt32(arch + ".embedding_length", 16).putUInt32(arch + ".attention.head_count", 2)
                .putUInt32(arch + ".feed_forward_length", 96).putUInt32(arch + ".block_count", 0)
                .putUInt32(arch + ".context_length", 4096)
                .addF32Tensor("token_embd.weight", new long[] {16, 4}, new float[64]);
        keys.apply(w).write(p);
        try (GgufFile f = GgufFile.open(p)) {
            return ModelConfig.from(f);
        }
    }

    @Test
    void expertSizesAndWeightNormalisationFollowLlamaCppsDefaultsPerArchitecture() throws IOException {
        ModelConfig q3 = moeConfig("qwen3moe", w -> w.putUInt32("qwen3moe.expert_count", 8).putUInt32("qwen3moe.expert_used_count", 2));
        assertEquals(new ModelConfig.Moe(8, 2, 48, 0, true), q3.moe(), "qwen3moe: expert ff = ff / used, weights renormalised");
        assertTrue(q3.qkNorm() && q3.ropeNeox() && !q3.qkvBias());
        ModelConfig q2 = moeConfig("qwen2moe", w -> w.putUInt32("qwen2moe.expert_count", 8).putUInt32("qwen2moe.expert_used_count", 4)
                .putUInt32("qwen2moe.expert_feed_forward_length", 32));
        assertEquals(new ModelConfig.Moe(8, 4, 32, 96, false), q2.moe(), "qwen2moe: shared expert ff = ff, weights not renormalised");
        assertTrue(q2.qkvBias() && q2.ropeNeox());
        ModelConfig mixtral = moeConfig("llama", w -> w.putUInt32("llama.expert_count", 8).putUInt32("llama.expert_used_count", 2)
                .putUInt32("llama.expert_feed_forward_length", 7));
        assertEquals(new ModelConfig.Moe(8, 2, 96, 0, true), mixtral.moe(), "Mixtral: experts are feed_forward_length wide");
        assertNull(moeConfig("llama", w -> w).moe(), "llama without experts is dense");
    }

    @Test
    void aMixtureWithoutUsableExpertCountsIsAnErrorNamingTheKeys() {
        var none = assertThrows(GgufFormatException.class, () -> moeConfig("qwen3moe", w -> w));
        assertTrue(none.getMessage().contains("qwen3moe.expert_count 0 and qwen3moe.expert_used_count 0"), none.getMessage());
        var tooMany = assertThrows(GgufFormatException.class, () -> moeConfig("llama",
                w -> w.putUInt32("llama.expert_count", 2).putUInt32("llama.expert_used_count", 3)));
        assertTrue(tooMany.getMessage().contains("0 < expert_used_count <= expert_count"), tooMany.getMessage());
    }
}
