package dev.specula.tensor;

import dev.specula.gguf.GgmlType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Vector API paths agree with their scalar twins ({@link TwinCheck}), at this JVM's vector
 * width and, in a child JVM each, at 4 and 8 float lanes (NEON- and AVX2-sized vectors).
 */
class VectorMatchesScalarTest {
    /** Generous: the child only compiles nothing and checks a few thousand blocks; this guards against a hang, not a slow run. */
    private static final long CHILD_LIMIT_SECONDS = 300;

    static Stream<GgmlType> formats() {
        return TensorFormats.supported().stream();
    }

    @ParameterizedTest
    @MethodSource("formats")
    void vectorPathsAgreeWithScalarTwinsAtThePreferredWidth(GgmlType type) {
        TwinCheck.check(type, 3000 + type.id);
    }

    @ParameterizedTest
    @ValueSource(ints = {128, 256})
    void vectorPathsAgreeWithScalarTwinsAtNarrowerWidths(int bits) throws IOException, InterruptedException {
        String classPath = location(TensorFormats.class) + File.pathSeparator + location(VectorWidthMain.class);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(List.of(java.toString(), "--add-modules", "jdk.incubator.vector",
                "-D" + Lanes.WIDTH_PROPERTY + "=" + bits, "-cp", classPath, VectorWidthMain.class.getName()))
                .redirectErrorStream(true).start();
        boolean finished = child.waitFor(CHILD_LIMIT_SECONDS, TimeUnit.SECONDS);
        if (!finished) child.destroyForcibly();
        String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(finished, "child JVM did not finish: " + output);
        assertEquals(0, child.exitValue(), output);
        assertTrue(output.contains("lanes=" + bits / Float.SIZE), "child ran at another width: " + output);
    }

    private static String location(Class<?> c) {
        try {
            return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
