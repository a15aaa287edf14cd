package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import dev.specula.backend.cuda.CudaLibrary;
import dev.specula.backend.cuda.EmulatedCuda;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * --device and the -ngl seam: where a model runs, what happens without a GPU, and run/bench end
 * to end on the host emulation of specula.h.
 */
class DeviceOptionTest {
    private final Supplier<Optional<CudaLibrary>> real = DeviceOption.cudaLibrary;

    @AfterEach
    void restore() {
        DeviceOption.cudaLibrary = real;
    }

    private static DeviceOption option(String device, Integer gpuLayers) {
        DeviceOption d = new DeviceOption();
        d.device = device;
        d.gpuLayers = gpuLayers;
        return d;
    }

    @Test
    void theCpuIsTheDefaultAndCudaWithoutAGpuIsAnErrorNamingWhy() {
        DeviceOption.cudaLibrary = Optional::empty;
        StringWriter err = new StringWriter();
        assertEquals(DeviceOption.Backend.CPU, option("cpu", null).choose(32, new PrintWriter(err)));
        var e = assertThrows(UserError.class, () -> option("cuda", null).choose(32, new PrintWriter(err)));
        assertTrue(e.getMessage().startsWith("--device cuda: no " + CudaLibrary.FILE_NAME), e.getMessage());
        assertThrows(UserError.class, () -> option("tpu", null).choose(32, new PrintWriter(err)));
        assertEquals("", err.toString());
    }

    @Test
    void nglForEveryLayerRunsOnTheGpuOrWarnsOnceAndRunsOnTheCpu() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        StringWriter err = new StringWriter();
        assertEquals(DeviceOption.Backend.CUDA, option("cpu", 99).choose(32, new PrintWriter(err)));
        assertEquals(DeviceOption.Backend.CUDA, option("CUDA0", null).choose(32, new PrintWriter(err)));
        assertEquals(DeviceOption.Backend.CPU, option("cpu", 0).choose(32, new PrintWriter(err)));
        var partial = assertThrows(UserError.class, () -> option("cpu", 8).choose(32, new PrintWriter(err)));
        assertTrue(partial.getMessage().contains("a split by layer, which needs the model's placement plan"), partial.getMessage());
        assertEquals("", err.toString());

        DeviceOption.cudaLibrary = Optional::empty;
        assertEquals(DeviceOption.Backend.CPU, option("cpu", 32).choose(32, new PrintWriter(err)));
        String warning = err.toString();
        assertTrue(warning.startsWith("specula: warning: -ngl 32 asks for the GPU, but no ") && warning.strip().endsWith("running on the CPU"), warning);
        assertEquals(1, warning.strip().lines().count());
    }

    @Test
    void runOnTheGpuWritesTheCpusGreedyText() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        String m = TestFiles.model("stories260K.gguf").toString();
        var cpu = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0");
        var gpu = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--device", "cuda");
        assertEquals(0, gpu.code(), gpu.err());
        assertEquals(cpu.out(), gpu.out());
        assertTrue(gpu.err().contains("specula: CUDA0 (Specula host emulation of specula.h): 1.12 MiB of weights on the GPU"), gpu.err());
        var mapped = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "--device", "cuda",
                "--no-copy-weights");
        assertEquals(0, mapped.code(), mapped.err());
        assertEquals(cpu.out(), mapped.out());
        assertTrue(mapped.err().contains("weights read from the mapped file"), mapped.err());
        var f32 = InfoCommandTest.run("run", "-m", m, "-p", "Tom", "-n", "4", "--device", "cuda", "-ctk", "f32");
        assertEquals(1, f32.code());
        assertTrue(f32.err().contains("-ctk f32: the GPU keeps an F16 KV cache"), f32.err());
    }

    /** Partial -ngl (and -ot sending the first layers whole to the CPU) runs split by layer, saying which layers run where. */
    @Test
    void runWithAPartialNglSplitsByLayerAndWritesTheCpusGreedyText() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        String m = TestFiles.model("stories260K.gguf").toString();
        var cpu = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0");
        var half = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "-ngl", "3");
        assertEquals(0, half.code(), half.err());
        assertEquals(cpu.out(), half.out());
        assertTrue(half.err().contains("specula: split by layer: CPU: the token embedding and layers 0-2 with their KV cache; CUDA0 (Specula host emulation of specula.h): "
                + "layers 3-4, their KV cache and the output ("), half.err());
        assertTrue(half.err().contains("the hidden state copied up after layer 2"), half.err());
        var outputOnly = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "-ngl", "1");
        assertEquals(0, outputOnly.code(), outputOnly.err());
        assertEquals(cpu.out(), outputOnly.out());
        assertTrue(outputOnly.err().contains("layers 0-4 with their KV cache; CUDA0 (Specula host emulation of specula.h): the output ("), outputOnly.err());
        var overridden = InfoCommandTest.run("run", "-m", m, "-p", "Once upon a time", "-n", "32", "--temp", "0", "-ngl", "all", "-ot", "blk\\.[01]\\.=CPU");
        assertEquals(0, overridden.code(), overridden.err());
        assertEquals(cpu.out(), overridden.out());
        assertTrue(overridden.err().contains("layers 0-1 with their KV cache; CUDA0 (Specula host emulation of specula.h): layers 2-4, their KV cache"), overridden.err());
        // Speculative decoding truncates the target's cache after each rejected draft: both parts roll back.
        String d = TestFiles.model("stories260K-draft-4layer-f32.gguf").toString();
        var spec = InfoCommandTest.run("run", "-m", m, "-md", d, "-p", "Once upon a time", "-n", "32", "--temp", "0", "-ngl", "3");
        assertEquals(0, spec.code(), spec.err());
        assertEquals(cpu.out(), spec.out());
        assertTrue(spec.err().contains("draft_n_accepted"), spec.err());
        var bench = InfoCommandTest.run("bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "--warmup-ms", "0", "-ngl", "3");
        assertEquals(0, bench.code(), bench.err());
        assertTrue(bench.err().contains("specula: split by layer:"), bench.err());
    }

    @Test
    void runWithADraftOnTheGpuRunsBothThere() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        String m = TestFiles.model("stories260K.gguf").toString(), d = TestFiles.model("stories260K-draft-4layer-f32.gguf").toString();
        var r = InfoCommandTest.run("run", "-m", m, "-md", d, "-p", "Once upon a time", "-n", "24", "--temp", "0", "--device", "cuda");
        assertEquals(0, r.code(), r.err());
        assertEquals(2, r.err().lines().filter(l -> l.startsWith("specula: CUDA0 (")).count(), r.err());
        assertTrue(r.err().contains("draft_n_accepted"), r.err());
    }

    @Test
    void benchOnTheGpuReportsHowBusyItWasDuringDecode() {
        DeviceOption.cudaLibrary = () -> Optional.of(EmulatedCuda.library());
        String m = TestFiles.model("stories260K-q8_0.gguf").toString();
        var md = InfoCommandTest.run("bench", "-m", m, "-p", "16", "-n", "8", "-r", "2", "--warmup-ms", "0", "--device", "cuda");
        assertEquals(0, md.code(), md.err());
        assertTrue(md.out().contains("gpu busy") && md.out().contains("CUDA0"), md.out());
        String tg = md.out().lines().filter(l -> l.contains("tg8")).findFirst().orElseThrow();
        assertTrue(tg.matches(".*\\| +\\d+\\.\\d %.*"), tg);
        var jsonl = InfoCommandTest.run("bench", "-m", m, "-p", "0", "-n", "8", "-r", "1", "--warmup-ms", "0", "--device", "cuda", "-o", "jsonl");
        assertEquals(0, jsonl.code(), jsonl.err());
        assertTrue(jsonl.out().contains("\"backend\": \"CUDA0\"") && jsonl.out().contains("\"gpu_busy\": "), jsonl.out());
    }
}
