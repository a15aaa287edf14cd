package dev.specula.jmh;

import dev.specula.backend.cpu.CpuMatrix;
import dev.specula.backend.cpu.ThreadTeam;
import dev.specula.gguf.GgmlType;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The matrix product of the CPU backend ({@link CpuMatrix#multiply}) as the forward pass uses it:
 * batch 1 is the decode GEMV (the repacked integer kernels for Q4_0/Q4_1/Q4_K/Q6_K), a larger
 * batch the prefill GEMM. Shape COLSxROWS; weight bytes per op = the tensor's size, so
 * GB/s = ops/s × bytes (tools/jmh prints it). 4096x4096 does not fit the caches of this machine,
 * 1024x3072 mostly does.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
public class GemvBenchmark {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    public String type;

    @Param({"4096x4096", "1024x3072"})
    public String shape;

    @Param({"1"})
    public int batch;

    @Param({"1", "2"})
    public int threads;

    private CpuMatrix matrix;
    private ThreadTeam team;
    private float[][] x, out;

    @Setup(Level.Trial)
    public void setup() {
        String[] s = shape.split("x");
        int cols = Integer.parseInt(s[0]), rows = Integer.parseInt(s[1]);
        matrix = new CpuMatrix(Weights.matrix(GgmlType.valueOf(type), cols, rows, 3));
        team = new ThreadTeam(threads);
        x = new float[batch][];
        for (int b = 0; b < batch; b++) x[b] = Weights.vector(cols, 4 + b);
        out = new float[batch][rows];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        team.close();
    }

    @Benchmark
    public float[][] multiply() {
        matrix.multiply(x, out, 0, team);
        return out;
    }
}
