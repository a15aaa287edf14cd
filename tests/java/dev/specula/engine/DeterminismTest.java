package dev.specula.engine;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The forward pass gives the same bits whether the JIT has compiled it or not: a child JVM
 * running only the interpreter ({@code -Xint}) must print the same hash of every logit as this
 * JVM after it has compiled everything. That is what makes a seeded run reproducible: with 8-bit
 * activation rounding a last-bit difference (the Vector API's reduction order and exponential
 * differ between interpreter and compiled code, see LaneSum and VectorMath.exp) can change a
 * level and then the sampled text.
 */
class DeterminismTest {
    static final int[] TOKENS = tokens();

    static int[] tokens() {
        int[] t = new int[40];
        for (int i = 0; i < t.length; i++) t[i] = 1 + (i * 37) % 500;
        return t;
    }

    static String hash(Path model, boolean flash, int reps) {
        try (GgufFile f = GgufFile.open(model)) {
            ModelConfig c = ModelConfig.from(f);
            try (CpuTransformer m = new CpuTransformer(c, new ModelWeights(f, c), 2, flash)) {
                long h = 0;
                for (int r = 0; r < reps; r++) {
                    h = 0;
                    for (float[] row : m.forward(TOKENS, new KvCache(c, 64, KvCache.Precision.F16), true)) {
                        for (float v : row) h = h * 31 + Float.floatToRawIntBits(v);
                    }
                }
                return Long.toHexString(h);
            }
        }
    }

    /** Child JVM entry: prints the hash of one forward pass. */
    public static void main(String[] args) {
        System.out.println("hash " + hash(Path.of(args[0]), Boolean.parseBoolean(args[1]), 1));
    }

    @ParameterizedTest(name = "{0} flash={1}")
    @CsvSource({"stories260K-q4_0.gguf, false", "stories260K-q8_0.gguf, true"})
    void interpretedAndCompiledCodeGiveTheSameLogits(String model, boolean flash) throws Exception {
        Path file = TestFiles.model(model);
        String compiled = hash(file, flash, 300);
        String classPath = System.getProperty("java.class.path");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(List.of(java.toString(), "-Xint", "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", classPath + File.pathSeparator + location(DeterminismTest.class),
                DeterminismTest.class.getName(), file.toString(), String.valueOf(flash))).redirectErrorStream(true).start();
        boolean finished = child.waitFor(300, TimeUnit.SECONDS);
        if (!finished) child.destroyForcibly();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(finished, "interpreter-only JVM did not finish: " + out);
        assertTrue(out.contains("hash " + compiled), "compiled " + compiled + ", interpreted: " + out);
    }

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}
