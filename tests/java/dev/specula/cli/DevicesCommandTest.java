package dev.specula.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.backend.cuda.CudaLibrary;
import org.junit.jupiter.api.Test;

class DevicesCommandTest {
    @Test
    void listsTheLibraryAndItsDevicesOrSaysWhereItLooked() {
        var r = InfoCommandTest.run("devices");
        assertEquals(0, r.code(), r.err());
        if (CudaLibrary.load().isPresent()) {
            assertTrue(r.out().contains("(ABI " + CudaLibrary.ABI_VERSION + ")"), r.out());
            assertTrue(r.out().contains("0 devices: ") || r.out().contains("| sm_"), r.out());
        } else {
            assertTrue(r.out().startsWith("no " + CudaLibrary.FILE_NAME + " found (looked in: "), r.out());
        }
    }
}
