package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;
import dev.specula.tools.MakeModel;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The placement flags end to end: info --placement's tables, and what run does with a plan on a machine with or without a GPU. */
class PlacementCommandTest {
    @TempDir static Path dir;
    static Path model;
    private final Supplier<Optional<CudaLibrary>> real = DeviceOption.cudaLibrary;

    @BeforeAll
    static void makeModel() {
        model = dir.resolve("qwen3moe-tiny.gguf");
        CommandLine cl = new CommandLine(new MakeModel());
        cl.setOut(new PrintWriter(new StringWriter()));
        assertEquals(0, cl.execute("-o", model.toString(), "--preset", "qwen3moe-tiny", "--threads", "1"));
    }

    @AfterEach
    void restore() {
        DeviceOption.cudaLibrary = real;
    }

    @Test
    void infoPlacementPrintsEachGroupsDeviceAndBytesAndTheTotals() {
        DeviceOption.cudaLibrary = Optional::empty;
        var r = InfoCommandTest.run("info", "-m", model.toString(), "--placement", "-ngl", "all", "--cpu-moe", "-c", "256");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("placement: context 256, f16 KV cache, batch 512, CUDA0 budget unlimited"), r.out());
        assertTrue(r.out().matches("(?s).*\\| blk\\.0-1 experts +\\| CPU +\\| +6 \\| +384\\.00 KiB \\|.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\| blk\\.0-1 attention +\\| CUDA0 +\\|.*"), r.out());
        // 2 layers x keys and values x 256 positions x 2 kv heads x 16 x 2 bytes
        assertTrue(r.out().matches("(?s).*\\| blk\\.0-1 KV cache +\\| CUDA0 +\\| +\\| +64\\.00 KiB \\|.*"), r.out());
        assertTrue(r.out().matches("(?s).*\\| CUDA0 +\\| .*\\| +64\\.00 KiB \\|.*"), r.out());
        assertFalse(r.out().contains("| 0 | blk."), "no tensor table with --placement");
    }

    @Test
    void infoPlacementOverTheBudgetPrintsThePlanThenOneLineNamingWhatIsMissing() {
        DeviceOption.cudaLibrary = Optional::empty;
        var r = InfoCommandTest.run("info", "-m", model.toString(), "--placement", "-ngl", "all", "--gpu-mem", "1MiB", "-c", "256");
        assertEquals(1, r.code());
        assertTrue(r.out().contains("| CUDA0  |"), r.out());
        String line = r.err().strip();
        assertEquals(1, line.lines().count(), line);
        assertTrue(line.startsWith("specula: error: qwen3moe-tiny.gguf: CUDA0 needs ") && line.contains("missing; largest there: "), line);
    }

    @Test
    void infoFitSaysWhyAndFits() {
        DeviceOption.cudaLibrary = Optional::empty;
        var r = InfoCommandTest.run("info", "-m", model.toString(), "--placement", "--fit", "--gpu-mem", "40MiB", "-c", "256", "-b", "64");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("fit: everything fits on CUDA0: "), r.out());
        var tight = InfoCommandTest.run("info", "-m", model.toString(), "--placement", "--fit", "--gpu-mem", "900KiB", "-c", "256", "-b", "64");
        assertEquals(0, tight.code(), tight.err());
        assertTrue(tight.out().contains("fit: everything on CUDA0 needs 1.16 MiB, 292.50 KiB more than its budget of 900.00 KiB"), tight.out());
        assertTrue(tight.out().matches("(?s).*fit: predicted [0-9.]+ ms/token .*; -ngl \\d+ alone, the most layers that fit.*"), tight.out());
    }

    @Test
    void withoutAGpuAnOverrideNamingOneIsAnErrorAndNglAWarning() {
        DeviceOption.cudaLibrary = Optional::empty;
        var e = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ot", "attn=CUDA0");
        assertEquals(1, e.code());
        assertTrue(e.err().contains("-ot places tensors on CUDA0, but no "), e.err());
        var w = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "all", "--cpu-moe");
        assertEquals(0, w.code(), w.err());
        assertTrue(w.err().contains("specula: warning: -ngl all asks for the GPU, but no "), w.err());
    }

    @Test
    void benchNamesEachPlacementItMeasured() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        // The backend column tells bench-moe's two settings apart: experts on the CPU, a layer split, all on the GPU.
        for (String[] c : new String[][] {{"CPU+CUDA0", "-ngl", "all", "--cpu-moe"}, {"CPU+CUDA0", "-ngl", "2"}, {"CUDA0", "-ngl", "all"}}) {
            String[] args = {"bench", "-m", model.toString(), "-p", "0", "-n", "2", "-r", "1", "--warmup-ms", "0", "-o", "jsonl", c[1], c[2]};
            if (c.length > 3) args = java.util.stream.Stream.concat(java.util.Arrays.stream(args), java.util.stream.Stream.of(c[3])).toArray(String[]::new);
            var r = InfoCommandTest.run(args);
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains("\"backend\": \"" + c[0] + "\""), String.join(" ", args) + ": " + r.out());
        }
    }

    @Test
    void withAGpuExpertsOnTheCpuRunSplitAsDoALayerSplitAndExpertsOnTheGpuAndAttentionSplitInsideALayerIsRefused() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        var split = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "all", "--cpu-moe");
        assertEquals(0, split.code(), split.err());
        assertTrue(split.err().contains("the feed-forward of 2 of 2 layers on the CPU (split"), split.err());
        var byLayer = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "2", "--cpu-moe");
        assertEquals(0, byLayer.code(), byLayer.err());
        assertEquals(split.out(), byLayer.out());
        assertTrue(byLayer.err().contains("specula: split by layer: CPU: the token embedding and layer 0 with their KV cache; CUDA0 (")
                && byLayer.err().contains("layer 1, their KV cache and the output (") && byLayer.err().contains("the feed-forward of 1 of them on the CPU"), byLayer.err());
        var inside = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "all", "--cpu-moe", "-ot", "blk\\.1\\.attn_q=CPU");
        assertEquals(1, inside.code());
        assertTrue(inside.err().contains("in a way Specula does not run: layer 1 has some attention tensors on the CPU and some on CUDA0"), inside.err());
        assertEquals(1, inside.err().strip().lines().count(), inside.err());
        var expertsOnGpu = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "all", "--n-cpu-moe", "1");
        assertEquals(0, expertsOnGpu.code(), expertsOnGpu.err());
        assertTrue(expertsOnGpu.err().contains("the feed-forward of 1 of 2 layers on the CPU (split"), expertsOnGpu.err());
        assertEquals(split.out(), expertsOnGpu.out());
        var allOnGpu = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "all");
        assertEquals(0, allOnGpu.code(), allOnGpu.err());
        assertFalse(allOnGpu.err().contains("on the CPU (split"), allOnGpu.err());
        assertEquals(split.out(), allOnGpu.out());
        var tooBig = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "all", "--cpu-moe", "--gpu-mem", "100KiB");
        assertEquals(1, tooBig.code());
        assertTrue(tooBig.err().contains("CUDA0 needs") && tooBig.err().contains("missing"), tooBig.err());
        var cpu = InfoCommandTest.run("run", "-m", model.toString(), "-p", "hi", "-n", "2", "--temp", "0", "-ngl", "0", "--gpu-mem", "1GiB");
        assertEquals(0, cpu.code(), cpu.err());
    }
}
