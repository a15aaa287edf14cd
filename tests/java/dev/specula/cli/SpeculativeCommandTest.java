package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufArray;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import dev.specula.gguf.GgufValue;
import dev.specula.gguf.GgufValueType;
import dev.specula.gguf.GgufWriter;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code run} and {@code bench} with a draft model or prompt lookup, and the vocabulary check. */
class SpeculativeCommandTest {
    static final String TARGET = "stories260K.gguf", DRAFT = "stories260K-draft-4layer-f32.gguf";

    static String model(String name) {
        return TestFiles.model(name).toString();
    }

    @Test
    void runWithADraftPrintsTheTargetsTextAndTheDraftStatistics() {
        var plain = InfoCommandTest.run("run", "-m", model(TARGET), "-p", "Once upon a time", "-n", "40", "--temp", "0", "-t", "2");
        var spec = InfoCommandTest.run("run", "-m", model(TARGET), "-md", model(DRAFT), "-p", "Once upon a time", "-n", "40",
                "--temp", "0", "-t", "2", "--draft-max", "4", "--draft-p-min", "0");
        assertEquals(0, spec.code(), spec.err());
        assertEquals(plain.out(), spec.out());
        assertTrue(spec.err().matches("(?s).*draft_n = [1-9][0-9]*, draft_n_accepted = [0-9]+, acceptance = [0-9.]+ %.*"), spec.err());
        assertTrue(spec.err().contains("speed-up"), spec.err());
    }

    @Test
    void lookupAndAdaptiveLengthKeepTheText() {
        String prompt = "The cat sat on the mat. The dog sat on the log. The cat sat on the mat. The";
        var plain = InfoCommandTest.run("run", "-m", model(TARGET), "-p", prompt, "-n", "48", "--temp", "0");
        var spec = InfoCommandTest.run("run", "-m", model(TARGET), "--lookup", "3", "--draft-adaptive", "-p", prompt, "-n", "48", "--temp", "0");
        assertEquals(0, spec.code(), spec.err());
        assertEquals(plain.out(), spec.out());
        assertTrue(spec.err().contains("lookup (n-gram 3)"), spec.err());
    }

    @Test
    void aDraftWithAnotherVocabularyIsAOneLineErrorNamingTheFirstDifferentToken(@TempDir Path dir) throws IOException {
        Path other = withToken(dir.resolve("other.gguf"), 300, "zebra");
        var r = InfoCommandTest.run("run", "-m", model(TARGET), "-md", other.toString(), "-p", "Once", "-n", "4", "--temp", "0");
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("token 300 differs") && r.err().contains("draft 'zebra'") && r.err().contains("--spec-allow-mismatch"), r.err());

        var bridged = InfoCommandTest.run("run", "-m", model(TARGET), "-md", other.toString(), "--spec-allow-mismatch",
                "-p", "Once upon a time", "-n", "24", "--temp", "0");
        var plain = InfoCommandTest.run("run", "-m", model(TARGET), "-p", "Once upon a time", "-n", "24", "--temp", "0");
        assertEquals(0, bridged.code(), bridged.err());
        assertEquals(plain.out(), bridged.out());
        assertTrue(bridged.err().contains("translating through text"), bridged.err());
    }

    @Test
    void draftModelAndLookupTogetherAreRefused() {
        var r = InfoCommandTest.run("run", "-m", model(TARGET), "-md", model(DRAFT), "--lookup", "2", "-p", "x", "-n", "1");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("not both"), r.err());
    }

    @Test
    void benchComparesTargetAloneAndSpeculativePerPrompt() {
        var r = InfoCommandTest.run("bench", "-m", model(TARGET), "--lookup", "2", "-n", "16", "-r", "1", "--warmup-ms", "0", "-t", "1",
                "--spec-prompt", "rep=The cat sat on the mat. The cat sat on the mat. The cat");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*\\| rep +\\| +1 \\| tg16 \\|.*\\| +[0-9.]+x \\|.*\\| yes +\\|.*"), r.out());
    }

    @Test
    void speculativeBenchRefusesAMissingOrListedGenerationLength() {
        var r = InfoCommandTest.run("bench", "-m", model(TARGET), "--lookup", "2", "-n", "0");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("-n takes one positive token count"), r.err());
        r = InfoCommandTest.run("bench", "-m", model(TARGET), "--lookup", "2", "-n", "8,16");
        assertEquals(1, r.code());
    }

    /** A copy of the draft model whose token {@code id} reads {@code text}. */
    static Path withToken(Path to, int id, String text) throws IOException {
        try (GgufFile f = GgufFile.open(TestFiles.model(DRAFT))) {
            GgufWriter w = new GgufWriter();
            for (String k : f.metadata().keys()) {
                GgufValue v = f.metadata().get(k).orElseThrow();
                if (k.equals("tokenizer.ggml.tokens")) {
                    String[] tokens = f.metadata().getStrings(k).clone();
                    tokens[id] = text;
                    w.putArray(k, new GgufArray(GgufValueType.STRING, tokens));
                } else {
                    w.put(k, v.type(), v.value());
                }
            }
            for (GgufTensor t : f.tensors()) w.addTensor(t.name(), t.type(), t.shape(), t.data().toArray(ValueLayout.JAVA_BYTE));
            w.write(to);
        }
        return to;
    }
}
