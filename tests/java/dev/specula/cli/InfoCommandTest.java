package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class InfoCommandTest {
    @TempDir Path tmp;

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = SpeculaCommand.run(new PrintWriter(out), new PrintWriter(err), args);
        return new Result(code, out.toString(), err.toString());
    }

    static Stream<Path> everySharedGguf() throws IOException {
        Path shared = TestFiles.shared();
        if (!Files.isDirectory(shared)) return Stream.empty();
        return Stream.concat(Files.list(shared.resolve("models")), Files.list(shared.resolve("fixtures/tokenizer")))
                .filter(p -> p.toString().endsWith(".gguf")).sorted();
    }

    @ParameterizedTest
    @MethodSource("everySharedGguf")
    void infoDescribesEverySharedFile(Path gguf) {
        Result r = run("info", gguf.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("architecture"), r.out());
        assertTrue(r.out().matches("(?s).*vocabulary\\s+\\d+ tokens.*"), r.out());
    }

    @Test
    void infoListsTensorsWithTypeShapeAndBytes() {
        Result r = run("info", "-m", TestFiles.model("stories260K-q8_0.gguf").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("file type       Q8_0"), r.out());
        assertTrue(r.out().matches("(?s).*\\| +\\d+ \\| blk\\.0\\.attn_q\\.weight +\\| Q8_0 \\| \\[64, 64\\] +\\| +4\\.25 KiB \\|.*"), r.out());
        assertTrue(r.out().contains("48 of 48 tensors"), r.out());
    }

    @Test
    void tensorFilterShowsWhatAnOverrideRuleWouldMatch() {
        Result r = run("info", TestFiles.model("stories260K.gguf").toString(), "--tensors", "blk\\..*\\.ffn_(up|gate)");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("10 of 48 tensors match"), r.out());
        assertFalse(r.out().contains("attn_q"), r.out());
    }

    @Test
    void unsupportedTypesAreFlagged() throws IOException {
        Path p = tmp.resolve("iq2.gguf");
        new GgufWriter().putString("general.architecture", "llama")
                .addTensor("blk.0.ffn_down.weight", GgmlType.IQ2_XXS, new long[] {256}, new byte[66]).write(p);
        Result r = run("info", p.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("cannot compute with [IQ2_XXS]"), r.out());
    }

    @Test
    void badFileIsOneLineAndNonZero() throws IOException {
        Path p = tmp.resolve("broken.gguf");
        Files.write(p, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1});
        Result r = run("info", p.toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("specula: error: broken.gguf: tensor count"), r.err());
    }

    @Test
    void missingFileAndBadRegexAreUserErrors() {
        Result r = run("info", tmp.resolve("nope.gguf").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("specula: error: nope.gguf: no such file ("), r.err());
        r = run("info", TestFiles.model("stories260K.gguf").toString(), "--tensors", "([");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--tensors: bad regular expression"), r.err());
        r = run("info");
        assertEquals(1, r.code());
    }

    @Test
    void checkDecodesEveryTensorAndFindsNonFiniteValues() throws IOException {
        Result r = run("info", TestFiles.model("stories260K-q4_0.gguf").toString(), "--check", "--no-tensors");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("check: 48 tensors decoded, 0 with non-finite values"), r.out());
        Path p = tmp.resolve("nan.gguf");
        new GgufWriter().putString("general.architecture", "llama")
                .addF32Tensor("ok.weight", new long[] {4}, new float[] {1, 2, 3, 4})
                .addF32Tensor("bad.weight", new long[] {4}, new float[] {Float.NaN, 1, Float.POSITIVE_INFINITY, Float.NaN})
                .addTensor("blk.0.ffn_down.weight", GgmlType.IQ2_XXS, new long[] {256}, new byte[66])
                .write(p);
        r = run("info", p.toString(), "--check");
        assertEquals(1, r.code());
        assertTrue(r.out().contains("check: tensor 'bad.weight' has 2 NaN and 1 infinite values"), r.out());
        assertTrue(r.out().contains("skipped 1 tensors of types Specula cannot decode: [blk.0.ffn_down.weight (IQ2_XXS)]"), r.out());
        assertTrue(r.out().contains("check: 2 tensors decoded, 1 with non-finite values"), r.out());
    }
}
