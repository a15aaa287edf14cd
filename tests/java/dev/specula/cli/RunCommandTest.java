package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.Npy;
import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.tokenizer.Tokenizer;
import dev.specula.engine.CpuTransformer;
import dev.specula.engine.Generator;
import dev.specula.engine.KvCache;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
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
        // The F32 model: with quantised weights, activations are rounded to 8 bits, and the JIT's
        // summation order (interpreted vs compiled, see LaneSum) can move a value to the next
        // level, so two runs in one JVM may differ there; here a last-bit difference would have
        // to land within 1e-7 of a sampling boundary.
        String m = TestFiles.model("stories260K.gguf").toString();
        var a = InfoCommandTest.run("run", "-m", m, "-p", "Tom", "-n", "20", "--temp", "1.2", "--seed", "7");
        var b = InfoCommandTest.run("run", "-m", m, "-p", "Tom", "-n", "20", "--temp", "1.2", "--seed", "7");
        var c = InfoCommandTest.run("run", "-m", m, "-p", "Tom", "-n", "20", "--temp", "1.2", "--seed", "8");
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
        assertNotEquals(a.out(), c.out(), "another seed should give other text");
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

    record Chat(int code, String out, String err, List<RunCommand.Turn> turns) {}

    /** Runs {@code run ARGS} as an interactive chat whose user types {@code typed}. */
    static Chat chat(String typed, String... args) {
        RunCommand cmd = new RunCommand();
        cmd.input = new StringReader(typed);
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = new CommandLine(cmd);
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        cl.setExecutionExceptionHandler(new OneLineErrors());
        int code = cl.execute(args);
        cl.getOut().flush();
        cl.getErr().flush();
        return new Chat(code, out.toString(), err.toString(), List.copyOf(cmd.turns));
    }

    static final String[] CHAT = {"-m", TestFiles.model("stories260K.gguf").toString(), "-cnv", "--chat-template-chatml",
            "--temp", "0", "-n", "12", "-ctk", "f32", "-c", "512"};

    /** Greedy continuation of {@code context} by a fresh model with an empty cache. */
    private static int[] freshGreedy(int[] context, int n) {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            ModelConfig c = ModelConfig.from(f);
            Generator g = new Generator(new CpuTransformer(c, new ModelWeights(f, c), 1, false), new KvCache(c, 512, KvCache.Precision.F32), 512);
            g.setSequence(context);
            Sampler s = new Sampler(new SamplingParams(0, 40, 0.95f, 0.05f, 1f, 64, 0, 0, 1));
            for (int id : context) s.accept(id);
            return g.generate(s, n, Tokenizer.fromGguf(f).vocabulary()::isEndOfGeneration, id -> {});
        }
    }

    @Test
    void interactiveChatKeepsEarlierTurnsInTheCache() {
        Chat r = chat("Once upon a time\n\nTom had a red ball\n", CHAT);
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.turns().size(), r.out());
        RunCommand.Turn t1 = r.turns().get(0), t2 = r.turns().get(1);
        // Turn 1 evaluates its whole prompt; turn 2 starts with everything turn 1 left in the cache
        // (prompt + answer) and evaluates only the rest: the answer's closing and the new message.
        assertEquals(t1.context().length, t1.evaluatedTokens());
        int held = t1.context().length + t1.generated().length; // -n 12, no end token from this model
        assertArrayEquals(t1.context(), Arrays.copyOf(t2.context(), t1.context().length));
        assertArrayEquals(t1.generated(), Arrays.copyOfRange(t2.context(), t1.context().length, held));
        assertEquals(t2.context().length - held, t2.evaluatedTokens());
        assertTrue(t2.evaluatedTokens() < t2.context().length / 2, t2.evaluatedTokens() + " of " + t2.context().length);
        // With the cache reused the answers are what a fresh model computes for the whole conversation.
        assertArrayEquals(freshGreedy(t1.context(), 12), t1.generated());
        assertArrayEquals(freshGreedy(t2.context(), 12), t2.generated());
        String a1, a2;
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K.gguf"))) {
            Tokenizer tok = Tokenizer.fromGguf(f);
            a1 = tok.decode(t1.generated());
            a2 = tok.decode(t2.generated());
        }
        assertFalse(a1.isBlank() || a2.isBlank());
        // "> " prompts: one per turn, one that the blank line re-asks, one that meets EOF.
        String out = r.out();
        int first = out.indexOf(a1.strip()), second = out.indexOf(a2.strip(), first + 1);
        assertTrue(first > 0 && second > first, out);
        assertEquals(4, out.split("\n> ", -1).length - 1, out);
        assertTrue(r.err().contains("prompt eval time"), r.err());
    }

    @Test
    void exitCommandAndEndOfInputEndTheChat() {
        Chat r = chat("Once upon a time\n/exit\nnever read\n", CHAT);
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.turns().size());
        r = chat("", CHAT);
        assertEquals(0, r.code(), r.err());
        assertEquals(0, r.turns().size());
        assertEquals("\n> \n", r.out());
        // A first message given with -p is answered before the prompt appears.
        String[] withPrompt = Arrays.copyOf(CHAT, CHAT.length + 2);
        withPrompt[CHAT.length] = "-p";
        withPrompt[CHAT.length + 1] = "Once upon a time";
        r = chat("/exit\n", withPrompt);
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.turns().size());
        assertTrue(r.out().endsWith("\n> "), r.out());
    }

    @Test
    void aFullContextEndsTheChatWithAMessage() {
        String[] small = CHAT.clone();
        small[small.length - 1] = "80";
        Chat r = chat("Once upon a time\nTom had a big red ball and a little dog\nmore\n", small);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("specula: context full"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
        assertTrue(r.turns().size() < 3, r.turns().size() + " turns");
    }
}
