package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.Npy;
import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class RunCommandTest {
    @Test
    void greedyRunPrintsLlamaCppsContinuation() throws Exception {
        Path dir = TestFiles.shared().resolve("fixtures/logits");
        String prompt = Files.readString(TestFiles.require(dir.resolve("stories260K.p1.prompt.txt"))).strip();
        int[] reference = Npy.read(dir.resolve("stories260K.p1.tokens.npy")).ints();
        Path model = TestFiles.model("stories260K.gguf");
        String expected;
        try (GgufFile f = GgufFile.open(model)) {
            expected = Tokenizer.fromGguf(f).decode(reference);
        }
        var r = InfoCommandTest.run("run", "-m", model.toString(), "-p", prompt, "-n", "48", "--temp", "0", "-ctk", "f32");
        assertEquals(0, r.code(), r.err());
        assertEquals(expected, r.out().strip());
        assertTrue(r.err().contains("prompt eval time") && r.err().contains("/    48 tokens"), r.err());
    }

    @Test
    void sameSeedSameTextAtTemperature() {
        String m = TestFiles.model("stories260K-q8_0.gguf").toString();
        var a = InfoCommandTest.run("run", "-m", m, "-p", "Tom", "-n", "20", "--temp", "1.2", "--seed", "7");
        var b = InfoCommandTest.run("run", "-m", m, "-p", "Tom", "-n", "20", "--temp", "1.2", "--seed", "7", "-fa");
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
    }

    @Test
    void chatWithoutATemplateIsAClearErrorUnlessChatmlIsChosen() {
        String m = TestFiles.model("stories260K.gguf").toString();
        var r = InfoCommandTest.run("run", "-m", m, "-p", "Hi", "-cnv", "-n", "4");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("specula: error: ") && r.err().contains("chat template"), r.err());
        r = InfoCommandTest.run("run", "-m", m, "-p", "Hi", "-cnv", "--chat-template-chatml", "-n", "4", "--temp", "0");
        assertEquals(0, r.code(), r.err());
    }

    @Test
    void badFlagsAndOversizedPromptsAreOneLineErrors() {
        String m = TestFiles.model("stories260K.gguf").toString();
        var r = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time there was", "-c", "4");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("does not fit") || r.err().contains("context holds 4"), r.err());
        r = InfoCommandTest.run("run", "-m", m, "-p", "x", "--top-p", "2");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("top-p"), r.err());
        r = InfoCommandTest.run("run", "-m", m, "-p", "x", "-ctk", "q4_0");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("-ctk"), r.err());
        r = InfoCommandTest.run("run", "-m", m);
        assertEquals(1, r.code());
        assertTrue(Arrays.asList(r.err().split("\n")).size() == 1, r.err());
    }
}
