package dev.specula;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the shared test data (../shared beside the repository root, or $SPECULA_SHARED). */
public final class TestFiles {
    private TestFiles() {}

    /** The repository root: the working directory Maven runs tests in. */
    public static Path repoRoot() {
        return Path.of("").toAbsolutePath();
    }

    /** ../shared, or the folder {@code SPECULA_SHARED} names (tools/gpu-suite carries the models to a GPU machine). */
    public static Path shared() {
        String env = System.getenv("SPECULA_SHARED");
        if (env != null && !env.isBlank()) return repoRoot().resolve(env).normalize();
        return repoRoot().resolve("../shared").normalize();
    }

    public static Path model(String name) {
        return require(shared().resolve("models").resolve(name));
    }

    public static Path tokenizerFixture(String name) {
        return require(shared().resolve("fixtures/tokenizer").resolve(name));
    }

    /** Skips the calling test, with the path in the message, when a shared file is absent. */
    public static Path require(Path p) {
        assumeTrue(Files.exists(p), () -> "shared test file absent, skipping: " + p);
        return p;
    }
}
