package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import org.junit.jupiter.api.Test;

class BenchCommandTest {
    @Test
    void benchPrintsOneRowPerTestAndSetting() {
        var r = InfoCommandTest.run("bench", "-m", TestFiles.model("stories260K-q4_0.gguf").toString(),
                "-p", "16", "-n", "4", "-fa", "0,1", "-r", "1", "--warmup", "0", "--warmup-ms", "0", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*\\| +1 \\| +0 \\| +pp16 \\| +[0-9.]+ \\([0-9.]+\\.\\.[0-9.]+\\) \\|.*"), r.out());
        assertEquals(4, r.out().lines().filter(l -> l.contains("| CPU ")).count(), r.out());
    }

    @Test
    void jsonLinesCarryTheMedianAndSpreadOfEachTest() {
        var r = InfoCommandTest.run("bench", "-m", TestFiles.model("stories260K-q8_0.gguf").toString(),
                "-p", "8", "-n", "2", "-r", "3", "--warmup-ms", "0", "-t", "2", "-o", "jsonl");
        assertEquals(0, r.code(), r.err());
        var lines = r.out().lines().toList();
        assertEquals(2, lines.size(), r.out());
        assertTrue(lines.get(0).matches("\\{\"model\": \".*Q8_0\", \"file\": \"stories260K-q8_0.gguf\", \"backend\": \"CPU\", \"threads\": 2, \"fa\": 0, "
                + "\"test\": \"pp8\", \"median_ts\": [0-9.]+, \"min_ts\": [0-9.]+, \"max_ts\": [0-9.]+\\}"), lines.get(0));
        assertTrue(lines.get(1).contains("\"test\": \"tg2\""), lines.get(1));
    }

    @Test
    void unknownOutputFormatIsAOneLineError() {
        var r = InfoCommandTest.run("bench", "-m", TestFiles.model("stories260K-q8_0.gguf").toString(), "-o", "xml");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("-o must be md or jsonl"), r.err());
    }
}
