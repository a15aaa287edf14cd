package dev.specula.tools;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.engine.CpuTransformer;
import dev.specula.engine.KvCache;
import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** tools/make-model at small sizes: the llama3-8b preset's path (random blocks, made-up vocabulary) scaled down. */
class MakeModelTest {
    static Path make(Path out, String... args) {
        String[] all = new String[args.length + 2];
        all[0] = "-o";
        all[1] = out.toString();
        System.arraycopy(args, 0, all, 2, args.length);
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new MakeModel());
        cl.setErr(new PrintWriter(err));
        cl.setOut(new PrintWriter(new StringWriter()));
        assertEquals(0, cl.execute(all), err::toString);
        return out;
    }

    static final String[] SMALL_LLAMA3 = {"--preset", "llama3-8b", "--dim", "256", "--layers", "2", "--heads", "4", "--kv-heads", "1",
            "--ff", "512", "--vocab-size", "2000"};

    @ParameterizedTest
    @ValueSource(strings = {"q4_0", "q8_0"})
    void thePresetWritesRandomBlocksAModelThatLoadsTokenizesAndRunsToFiniteLogits(String type, @TempDir Path dir) {
        Path file = make(dir.resolve("m.gguf"), concat(SMALL_LLAMA3, "--type", type));
        try (GgufFile f = GgufFile.open(file)) {
            ModelConfig c = ModelConfig.from(f);
            assertEquals(256, c.embeddingLength());
            assertEquals(2000, c.vocabSize());
            assertEquals(500000f, c.ropeFreqBase());
            assertEquals(GgmlType.valueOf(type.toUpperCase()), f.requireTensor("blk.1.ffn_down.weight").type());
            Tokenizer tok = Tokenizer.fromGguf(f);
            int[] ids = tok.encode("hello world, 42!", true, false);
            assertEquals(1, ids[0], "BOS");
            assertEquals("hello world, 42!", tok.decode(java.util.Arrays.copyOfRange(ids, 1, ids.length)).strip(),
                    "text survives the made-up vocabulary");
            try (CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 1, false)) {
                float[] logits = m.forward(ids, m.newCache(32, KvCache.Precision.F16), false)[0];
                for (float v : logits) assertTrue(Float.isFinite(v));
            }
        }
    }

    @Test
    void theBytesDependOnTheSeedNotOnTheThreadCount(@TempDir Path dir) throws Exception {
        Path a = make(dir.resolve("a.gguf"), concat(SMALL_LLAMA3, "--type", "q4_0", "--threads", "1"));
        Path b = make(dir.resolve("b.gguf"), concat(SMALL_LLAMA3, "--type", "q4_0", "--threads", "3"));
        assertEquals(-1, Files.mismatch(a, b));
        Path c = make(dir.resolve("c.gguf"), concat(SMALL_LLAMA3, "--type", "q4_0", "--seed", "2"));
        assertNotEquals(-1, Files.mismatch(a, c));
    }

    @Test
    void gaussianWeightsTakeAnyComputableTypeAndRandomBlocksOnlyQ4_0AndQ8_0(@TempDir Path dir) {
        Path file = make(dir.resolve("k.gguf"), "--vocab-size", "400", "--dim", "256", "--layers", "1", "--heads", "4", "--kv-heads", "2",
                "--ff", "256", "--type", "q4_k");
        try (GgufFile f = GgufFile.open(file)) {
            assertEquals(GgmlType.Q4_K, f.requireTensor("blk.0.attn_q.weight").type());
        }
        CommandLine cl = new CommandLine(new MakeModel());
        cl.setErr(new PrintWriter(new StringWriter()));
        assertNotEquals(0, cl.execute("-o", dir.resolve("x.gguf").toString(), "--vocab-size", "400", "--type", "q4_k", "--fill", "random-blocks"));
    }

    @Test
    void mixtureOfExpertsPresetsWriteLlamaCppsTensorNamesShapesAndKeys(@TempDir Path dir) {
        Path q2 = make(dir.resolve("q2.gguf"), "--preset", "qwen2moe-tiny", "--type", "q8_0");
        try (GgufFile f = GgufFile.open(q2)) {
            assertEquals("qwen2moe", f.metadata().architecture());
            assertEquals(8, f.metadata().getInt("qwen2moe.expert_count"));
            assertEquals(2, f.metadata().getInt("qwen2moe.expert_used_count"));
            assertEquals(32, f.metadata().getInt("qwen2moe.expert_feed_forward_length"));
            assertEquals(96, f.metadata().getInt("qwen2moe.expert_shared_feed_forward_length"));
            assertEquals("[64, 32, 8]", f.requireTensor("blk.1.ffn_up_exps.weight").shapeString());
            assertEquals("[32, 64, 8]", f.requireTensor("blk.1.ffn_down_exps.weight").shapeString());
            assertEquals(GgmlType.Q8_0, f.requireTensor("blk.1.ffn_gate_exps.weight").type());
            assertEquals(GgmlType.F32, f.requireTensor("blk.1.ffn_gate_inp.weight").type(), "routers stay F32");
            assertEquals("[64]", f.requireTensor("blk.0.ffn_gate_inp_shexp.weight").shapeString());
            assertEquals("[64, 96]", f.requireTensor("blk.0.ffn_up_shexp.weight").shapeString());
            assertNull(f.tensor("blk.0.ffn_up.weight"), "no dense feed-forward");
        }
        Path mixtral = make(dir.resolve("m.gguf"), "--preset", "mixtral-tiny");
        try (GgufFile f = GgufFile.open(mixtral)) {
            assertEquals("llama", f.metadata().architecture());
            assertEquals(8, f.metadata().getInt("llama.expert_count"));
            assertEquals("[64, 96, 8]", f.requireTensor("blk.0.ffn_gate_exps.weight").shapeString(), "Mixtral's experts are feed_forward_length wide");
            assertFalse(f.metadata().contains("llama.expert_feed_forward_length"));
        }
        CommandLine cl = new CommandLine(new MakeModel());
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        assertNotEquals(0, cl.execute("-o", dir.resolve("x.gguf").toString(), "--vocab-size", "400", "--arch", "qwen3moe"));
        assertTrue(err.toString().contains("needs --experts N"), err.toString());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
