package dev.specula.jmh;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.Library;
import com.kenai.jffi.Type;
import dev.specula.backend.cuda.CudaLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of one call into libspecula_cuda: FFM (the Foreign Function & Memory API, what
 * Specula uses), FFM with {@code Linker.Option.critical} (no thread-state transition, for short
 * calls that never block), and jffi (the JNI-based library under JNR). Two functions of the C ABI:
 * {@code specula_abi_version()} (no argument, int result) and {@code specula_buffer_size(NULL)} (one
 * pointer, 64-bit result). Needs build/cuda/libspecula_cuda.so (run from the repository root after
 * the CMake build). Average time per call, nanoseconds.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class DowncallBenchmark {
    private MethodHandle ffmVersion, ffmSize, criticalVersion, criticalSize;
    private CallContext jffiVersionCtx, jffiSizeCtx;
    private long jffiVersion, jffiSize;
    private final Invoker invoker = Invoker.getInstance();

    @Setup
    public void setup() {
        Path path = CudaLibrary.load().orElseThrow(() -> new IllegalStateException("build libspecula_cuda first: " + CudaLibrary.candidates())).path();
        Linker linker = Linker.nativeLinker();
        SymbolLookup lookup = SymbolLookup.libraryLookup(path, Arena.global());
        MemorySegment version = lookup.find("specula_abi_version").orElseThrow(), size = lookup.find("specula_buffer_size").orElseThrow();
        FunctionDescriptor v = FunctionDescriptor.of(ValueLayout.JAVA_INT), s = FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS);
        ffmVersion = linker.downcallHandle(version, v);
        ffmSize = linker.downcallHandle(size, s);
        criticalVersion = linker.downcallHandle(version, v, Linker.Option.critical(false));
        criticalSize = linker.downcallHandle(size, s, Linker.Option.critical(false));

        Library lib = Library.openLibrary(path.toString(), Library.NOW | Library.LOCAL);
        jffiVersion = lib.getSymbolAddress("specula_abi_version");
        jffiSize = lib.getSymbolAddress("specula_buffer_size");
        jffiVersionCtx = CallContext.getCallContext(Type.SINT32, new Type[0], CallingConvention.DEFAULT, false);
        jffiSizeCtx = CallContext.getCallContext(Type.UINT64, new Type[] {Type.POINTER}, CallingConvention.DEFAULT, false);
    }

    @Benchmark
    public int ffmNoArgument() throws Throwable {
        return (int) ffmVersion.invokeExact();
    }

    @Benchmark
    public int ffmCriticalNoArgument() throws Throwable {
        return (int) criticalVersion.invokeExact();
    }

    @Benchmark
    public int jffiNoArgument() {
        return invoker.invokeI0(jffiVersionCtx, jffiVersion);
    }

    @Benchmark
    public long ffmPointer() throws Throwable {
        return (long) ffmSize.invokeExact(MemorySegment.NULL);
    }

    @Benchmark
    public long ffmCriticalPointer() throws Throwable {
        return (long) criticalSize.invokeExact(MemorySegment.NULL);
    }

    @Benchmark
    public long jffiPointer() {
        return invoker.invokeL1(jffiSizeCtx, jffiSize, 0L);
    }
}
