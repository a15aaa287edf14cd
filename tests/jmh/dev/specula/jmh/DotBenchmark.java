package dev.specula.jmh;

import dev.specula.gguf.GgmlType;
import dev.specula.gguf.GgufTensor;
import dev.specula.tensor.TensorFormat;
import dev.specula.tensor.TensorFormats;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One dot product of 4096 weights of each format with float activations ({@link TensorFormat#dot},
 * the Vector API path; the scalar reference alongside for scale). The data fits in L1/L2, so this
 * is the kernel's compute rate: weights per second = ops/s × 4096.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class DotBenchmark {
    static final int N = 4096;

    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    public String type;

    private TensorFormat format;
    private GgufTensor weights;
    private float[] x;

    @Setup
    public void setup() {
        GgmlType t = GgmlType.valueOf(type);
        format = TensorFormats.of(t);
        weights = Weights.matrix(t, N, 1, 1);
        x = Weights.vector(N, 2);
    }

    @Benchmark
    public float dot() {
        return format.dot(weights.data(), 0, x, 0, N);
    }

    @Benchmark
    public float dotScalar() {
        return format.dotScalar(weights.data(), 0, x, 0, N);
    }
}
