package dev.specula.cli;

import dev.specula.backend.cuda.CudaLibrary;
import java.io.PrintWriter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code specula devices}: the native GPU library found (or where it was looked for) and its devices. */
@Command(name = "devices", description = "List the GPUs the native library sees (the CPU backend always runs).")
final class DevicesCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Optional<CudaLibrary> lib = CudaLibrary.load();
        if (lib.isEmpty()) {
            out.println("no " + CudaLibrary.FILE_NAME + " found (looked in: "
                    + CudaLibrary.candidates().stream().map(Object::toString).collect(Collectors.joining(", "))
                    + "); Specula runs on the CPU. Build it with: cmake -S . -B build && cmake --build build");
            return 0;
        }
        CudaLibrary cuda = lib.get();
        out.println(cuda.path() + " (ABI " + cuda.abiVersion() + ")");
        List<CudaLibrary.Device> devices = cuda.devices();
        if (devices.isEmpty()) {
            out.println("0 devices: " + cuda.lastError());
            return 0;
        }
        TextTable t = new TextTable("device:", "name", "compute", "memory:", "free:", "SMs:", "kind", "zero-copy");
        for (CudaLibrary.Device d : devices) {
            t.row(d.index(), d.name(), "sm_" + d.computeMajor() + d.computeMinor(), Units.bytes(d.totalMemory()), Units.bytes(d.freeMemory()),
                    d.multiprocessors(), d.integrated() ? "integrated" : "discrete", d.canMapHostMemory() ? "yes" : "no");
        }
        t.print(out);
        return 0;
    }
}
