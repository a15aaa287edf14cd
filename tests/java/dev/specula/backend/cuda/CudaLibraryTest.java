package dev.specula.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.specula.TestFiles;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The FFM bindings against native/include/specula.h and against the built libspecula_cuda
 * (tools/run-tests builds it with CMake before the Java tests wherever nvcc is installed, GPU or
 * not). Tests that need a GPU are tagged "gpu" and skip, saying so, when the library sees none.
 */
class CudaLibraryTest {
    static List<String> headerFunctions() throws IOException {
        String header = Files.readString(TestFiles.repoRoot().resolve("native/include/specula.h"));
        header = header.replaceAll("(?s)/\\*.*?\\*/", "");
        Matcher m = Pattern.compile("(?m)^[A-Za-z_][\\w\\s\\*]*?\\b(specula_\\w+)\\s*\\(").matcher(header);
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void everyFunctionOfTheHeaderHasABindingAndNoOtherOne() throws IOException {
        List<String> declared = headerFunctions();
        assertTrue(declared.size() >= 14, "parsed " + declared);
        assertEquals(declared, new ArrayList<>(CudaLibrary.FUNCTIONS.keySet()), "header order and names");
        assertTrue(declared.containsAll(List.of("specula_moe_route", "specula_gemv_experts", "specula_moe_combine")), "ABI 2.1's MoE functions");
    }

    @Test
    void theBindingIsWrittenForTheHeadersAbiVersion() throws IOException {
        String header = Files.readString(TestFiles.repoRoot().resolve("native/include/specula.h"));
        Matcher m = Pattern.compile("SPECULA_ABI_VERSION = (\\d+)").matcher(header);
        assertTrue(m.find(), "no SPECULA_ABI_VERSION in specula.h");
        assertEquals(Integer.parseInt(m.group(1)), CudaLibrary.ABI_VERSION);
    }

    @Test
    void appleSiliconMacsUseMetalEverythingElseCuda() {
        assertEquals("metal", CudaLibrary.backendFor("Mac OS X", "aarch64"));
        assertEquals("cuda", CudaLibrary.backendFor("Mac OS X", "x86_64"));
        assertEquals("cuda", CudaLibrary.backendFor("Linux", "aarch64"));   // Jetson
        assertEquals("cuda", CudaLibrary.backendFor("Linux", "amd64"));
        assertTrue(CudaLibrary.fileName("metal").contains("specula_metal"));
        assertTrue(CudaLibrary.candidates("metal").getLast().endsWith(java.nio.file.Path.of("build", "metal", CudaLibrary.fileName("metal"))));
    }

    static CudaLibrary library() {
        var lib = CudaLibrary.load();
        assumeTrue(lib.isPresent(), () -> "no " + CudaLibrary.FILE_NAME + " built (no nvcc here): " + CudaLibrary.candidates());
        return lib.get();
    }

    @Test
    void theLibraryLoadsAndReportsItsDevicesOrWhyThereAreNone() {
        CudaLibrary cuda = library();
        assertEquals(CudaLibrary.ABI_VERSION, cuda.abiVersion());
        int n = cuda.deviceCount();
        assertTrue(n >= 0);
        if (n == 0) {
            assertFalse(cuda.lastError().isBlank(), "the reason for no device");
            var e = assertThrows(CudaLibrary.NativeException.class, () -> cuda.allocate(0, 1024));
            assertTrue(e.getMessage().startsWith("specula_buffer_alloc: SPECULA_ERROR_"), e.getMessage());
        } else {
            CudaLibrary.Device d = cuda.device(0);
            assertFalse(d.name().isBlank());
            assertTrue(d.totalMemory() > 0 && d.computeMajor() >= 5);
        }
        assertEquals("SPECULA_ERROR_INVALID_ARGUMENT", cuda.statusName(1));
    }

    @Test
    @Tag("gpu")
    void dataRoundTripsThroughDeviceAndRegisteredHostMemory() {
        CudaLibrary cuda = library();
        assumeTrue(cuda.deviceCount() > 0, () -> "no GPU: " + cuda.lastError());
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(1 << 20, 4096), dst = a.allocate(1 << 20, 4096);
            for (long i = 0; i < src.byteSize(); i++) src.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 131 + 7));
            try (var b = cuda.allocate(0, src.byteSize())) {
                b.upload(0, src);
                b.download(0, dst);
            }
            assertEquals(-1, src.mismatch(dst));
            if (cuda.device(0).canMapHostMemory()) {
                dst.fill((byte) 0);
                try (var r = cuda.registerHost(0, src)) {
                    r.download(0, dst);
                }
                assertEquals(-1, src.mismatch(dst));
            }
        }
    }
}
