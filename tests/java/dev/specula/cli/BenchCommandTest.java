package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import org.junit.jupiter.api.Test;

class BenchCommandTest {
    @Test
    void benchPrintsOneRowPerTestAndSetting() {
        var r = InfoCommandTest.run("bench", "-m", TestFiles.model("stories260K-q4_0.gguf").toString(),
                "-p", "16", "-n", "4", "-fa", "0,1", "-r", "1", "--warmup", "0", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*\\| +1 \\| +0 \\| +pp16 \\| +[0-9.]+ \\([0-9.]+\\.\\.[0-9.]+\\) \\|.*"), r.out());
        assertEquals(4, r.out().lines().filter(l -> l.contains("| CPU ")).count(), r.out());
    }
}
