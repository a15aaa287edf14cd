package dev.specula.backend.cuda;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.specula.TestFiles;
import dev.specula.gguf.GgufFile;
import dev.specula.gguf.GgufTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Zero-copy weights: the mapped GGUF file registered for the device (Jetson's path) must give the
 * kernels exactly the bytes an upload gives them. The "gpu" test runs it on a discrete GPU, where
 * host-registered memory works too (over PCIe), and skips where the library sees no device.
 */
class MappedWeightsTest {
    private static CudaLibrary.Device device(boolean integrated, boolean canMap) {
        return new CudaLibrary.Device(0, "test", 1L << 30, 1L << 30, 8, 7, integrated, 16, canMap);
    }

    /** The library, when it is built, sees a GPU and device 0 can map host memory; else the test skips, saying which. */
    private static CudaLibrary mappingDevice() {
        var lib = CudaLibrary.load();
        assumeTrue(lib.isPresent(), () -> "no " + CudaLibrary.FILE_NAME + " built: " + CudaLibrary.candidates());
        CudaLibrary cuda = lib.get();
        assumeTrue(cuda.deviceCount() > 0, () -> "no GPU: " + cuda.lastError());
        assumeTrue(cuda.device(0).canMapHostMemory(), "device 0 cannot map host memory");
        return cuda;
    }

    @Test
    void integratedGpusMapTheFileDiscreteOnesUploadUnlessNoCopyIsAsked() {
        assertEquals(WeightResidency.MAPPED, WeightResidency.choose(device(true, true), false));
        assertEquals(WeightResidency.UPLOAD, WeightResidency.choose(device(true, false), false));
        assertEquals(WeightResidency.UPLOAD, WeightResidency.choose(device(false, true), false));
        assertEquals(WeightResidency.MAPPED, WeightResidency.choose(device(false, true), true));
        var e = assertThrows(IllegalArgumentException.class, () -> WeightResidency.choose(device(false, false), true));
        assertTrue(e.getMessage().contains("cannot map host memory"), e.getMessage());
    }

    @Test
    void eachPartIsRegisteredFromItsPageAlignedStartAndEveryTensorSitsAtItsFileOffset() {
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K-q8_0.gguf"))) {
            List<MappedWeights.PartRange> ranges = MappedWeights.partRanges(f);
            assertEquals(1, ranges.size());
            MappedWeights.PartRange r = ranges.get(0);
            assertEquals(0, r.start().address() % 4096, "mmap returns a page-aligned start");
            for (GgufTensor t : f.tensors()) {
                assertTrue(t.fileOffset() + t.byteSize() <= r.bytes(), t.name());
                assertEquals(-1, r.start().asSlice(t.fileOffset(), t.byteSize()).mismatch(t.data()), t.name());
            }
        }
    }

    @Test
    @Tag("gpu")
    void registeredWeightsGiveTheKernelsTheSameBytesAndResultsAsUploadedOnes() {
        CudaLibrary cuda = mappingDevice();
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K-q8_0.gguf"));
             MappedWeights mapped = MappedWeights.register(cuda, 0, f);
             Arena a = Arena.ofConfined();
             CudaLibrary.Stream s = cuda.stream(0)) {
            int products = 0;
            for (GgufTensor t : f.tensors()) {
                MappedWeights.Slice m = mapped.slice(t);
                MemorySegment back = a.allocate(t.byteSize(), 64);
                m.buffer().download(m.offset(), back);
                assertEquals(-1, back.mismatch(t.data()), () -> t.name() + ": the device read other bytes through the registered file");
                try (CudaLibrary.Buffer uploaded = cuda.allocate(0, t.byteSize())) {
                    uploaded.upload(0, t.data());
                    if (t.rank() == 2 && cuda.typeSupported(t.type().id) && gemvMatches(cuda, s, t, m, uploaded)) products++;
                }
            }
            System.out.println("MappedWeightsTest: " + f.tensors().size() + " tensors read back, " + products
                    + " matrix products identical from registered and uploaded weights");
        }
    }

    @Test
    @Tag("gpu")
    void twoModelsOverOneOpenFileShareTheRegistrationUntilTheLastCloses() {
        CudaLibrary cuda = mappingDevice();
        try (GgufFile f = GgufFile.open(TestFiles.model("stories260K-q8_0.gguf")); Arena a = Arena.ofConfined()) {
            GgufTensor t = f.tensors().get(f.tensors().size() - 1);
            MemorySegment back = a.allocate(t.byteSize(), 64);
            MappedWeights first = MappedWeights.register(cuda, 0, f);
            // CUDA refuses a second registration of the same pages: the second model must share the first's.
            try (MappedWeights second = MappedWeights.register(cuda, 0, f)) {
                assertSame(first.slice(t).buffer(), second.slice(t).buffer(), "one registration for both");
                first.close();
                first.close();  // twice is harmless and does not drop the second's use
                second.slice(t).buffer().download(second.slice(t).offset(), back);
                assertEquals(-1, back.mismatch(t.data()), "the second still reads the file after the first closed");
            }
            // Both closed: the range is unregistered, so registering it afresh works.
            try (MappedWeights again = MappedWeights.register(cuda, 0, f)) {
                assertNotSame(first.slice(t).buffer(), again.slice(t).buffer());
                again.slice(t).buffer().download(again.slice(t).offset(), back);
                assertEquals(-1, back.mismatch(t.data()));
            }
        }
    }

    /** y = W x from both copies of W: identical bits (same kernel, same bytes). False when the GEMV is not built yet. */
    private static boolean gemvMatches(CudaLibrary cuda, CudaLibrary.Stream s, GgufTensor t, MappedWeights.Slice m, CudaLibrary.Buffer uploaded) {
        long cols = t.dim(0), rows = t.dim(1);
        try (Arena a = Arena.ofConfined();
             CudaLibrary.Buffer x = cuda.allocate(0, cols * 4);
             CudaLibrary.Buffer y1 = cuda.allocate(0, rows * 4);
             CudaLibrary.Buffer y2 = cuda.allocate(0, rows * 4)) {
            MemorySegment hx = a.allocate(ValueLayout.JAVA_FLOAT, cols);
            Random r = new Random(cols * 31 + rows);
            for (long i = 0; i < cols; i++) hx.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextGaussian());
            x.upload(0, hx);
            try {
                cuda.gemv(s, t.type().id, m.buffer(), m.offset(), rows, cols, x, 0, 1, y1, 0);
            } catch (CudaLibrary.NativeException e) {
                if (e.status == 4) return false; // SPECULA_ERROR_UNSUPPORTED: the kernel has not landed
                throw e;
            }
            cuda.gemv(s, t.type().id, uploaded, 0, rows, cols, x, 0, 1, y2, 0);
            s.synchronize();
            MemorySegment h1 = a.allocate(rows * 4), h2 = a.allocate(rows * 4);
            y1.download(0, h1);
            y2.download(0, h2);
            assertEquals(-1, h1.mismatch(h2), () -> t.name() + ": GEMV differs between registered and uploaded weights");
            return true;
        }
    }
}
