package dev.specula.gguf;

import static org.junit.jupiter.api.Assertions.*;

import dev.specula.TestFiles;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GgufRoundTripTest {
    @TempDir Path tmp;

    static GgufWriter everyValueType() {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "llama");
        w.put("u8", GgufValueType.UINT8, 250L);
        w.put("i8", GgufValueType.INT8, -7L);
        w.put("u16", GgufValueType.UINT16, 65000L);
        w.put("i16", GgufValueType.INT16, -30000L);
        w.putUInt32("u32", 4_000_000_000L);
        w.putInt32("i32", -2_000_000_000);
        w.put("u64", GgufValueType.UINT64, -1L); // 2^64 - 1
        w.put("i64", GgufValueType.INT64, Long.MIN_VALUE);
        w.putFloat32("f32", 1.5e-5f);
        w.put("f64", GgufValueType.FLOAT64, Math.PI);
        w.putBool("bool", true);
        w.putString("unicode", "héllo ▁ 世界 🦙");
        w.putStrings("strings", "a", "", "▁b", "<0x0A>");
        w.putArray("floats", new GgufArray(GgufValueType.FLOAT32, new float[] {0f, -1.25f, 3e38f}));
        w.putArray("ints", new GgufArray(GgufValueType.INT32, new int[] {1, -2, 3}));
        w.putArray("u8s", new GgufArray(GgufValueType.UINT8, new byte[] {(byte) 255, 0}));
        w.putArray("bools", new GgufArray(GgufValueType.BOOL, new boolean[] {true, false}));
        w.putArray("nested", new GgufArray(GgufValueType.ARRAY, new GgufArray[] {
                new GgufArray(GgufValueType.INT64, new long[] {1, 2}),
                new GgufArray(GgufValueType.STRING, new String[] {"x"})}));
        return w;
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void everyMetadataTypeRoundTripsInBothVersions(int version) throws IOException {
        Path p = tmp.resolve("all.gguf");
        everyValueType().version(version).write(p);
        try (GgufFile f = GgufFile.open(p)) {
            GgufMetadata m = f.metadata();
            assertEquals(version, f.version());
            assertEquals(250, m.getInt("u8"));
            assertEquals(-7, m.getInt("i8"));
            assertEquals(65000, m.getInt("u16"));
            assertEquals(-30000, m.getInt("i16"));
            assertEquals(4_000_000_000L, m.getLong("u32"));
            assertEquals(-2_000_000_000, m.getInt("i32"));
            assertEquals("18446744073709551615", m.get("u64").orElseThrow().toString());
            assertEquals(Long.MIN_VALUE, m.getLong("i64"));
            assertEquals(1.5e-5f, (float) m.getDouble("f32"));
            assertEquals(Math.PI, m.getDouble("f64"));
            assertTrue(m.getBool("bool", false));
            assertEquals("héllo ▁ 世界 🦙", m.getString("unicode"));
            assertArrayEquals(new String[] {"a", "", "▁b", "<0x0A>"}, m.getStrings("strings"));
            assertArrayEquals(new float[] {0f, -1.25f, 3e38f}, m.getArray("floats").asFloats());
            assertArrayEquals(new int[] {1, -2, 3}, m.getArray("ints").asInts());
            assertArrayEquals(new long[] {255, 0}, m.getArray("u8s").asLongs());
            assertArrayEquals(new long[] {1, 0}, m.getArray("bools").asLongs());
            GgufArray[] nested = (GgufArray[]) m.getArray("nested").data();
            assertArrayEquals(new long[] {1, 2}, nested[0].asLongs());
            assertArrayEquals(new String[] {"x"}, nested[1].asStrings());
            assertEquals(19, m.keys().size());
            assertEquals("general.architecture", m.keys().iterator().next());
        }
    }

    @Test
    void wrongTypeAccessNamesTheKey() throws IOException {
        Path p = tmp.resolve("t.gguf");
        everyValueType().write(p);
        try (GgufFile f = GgufFile.open(p)) {
            var e = assertThrows(GgufFormatException.class, () -> f.metadata().getString("f32"));
            assertTrue(e.getMessage().contains("'f32' is FLOAT32, expected STRING"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.metadata().getInt("u32"));
            assertTrue(e.getMessage().contains("'u32'"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.metadata().getLong("u64"));
            assertTrue(e.getMessage().contains("out of range"), e.getMessage());
            e = assertThrows(GgufFormatException.class, () -> f.metadata().getString("absent.key"));
            assertTrue(e.getMessage().contains("'absent.key' is missing"), e.getMessage());
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {32, 64, 4096})
    void tensorsRoundTripAlignedToGeneralAlignment(int alignment) throws IOException {
        float[] a = new float[3 * 5];
        for (int i = 0; i < a.length; i++) a[i] = i * 0.5f - 3;
        byte[] q8 = new byte[2 * 34];
        for (int i = 0; i < q8.length; i++) q8[i] = (byte) (i * 7);
        Path p = tmp.resolve("t.gguf");
        new GgufWriter().alignment(alignment).putString("general.architecture", "llama")
                .addF32Tensor("a", new long[] {5, 3}, a)
                .addTensor("blk.0.q", GgmlType.Q8_0, new long[] {64}, q8)
                .write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(alignment, f.alignment());
            GgufTensor ta = f.tensor("a");
            assertArrayEquals(new long[] {5, 3}, ta.shape());
            assertEquals(15, ta.elements());
            assertEquals(3, ta.rows());
            assertEquals(0, ta.fileOffset() % alignment);
            float[] back = ta.data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
            assertArrayEquals(a, back);
            GgufTensor tq = f.tensor("blk.0.q");
            assertEquals(GgmlType.Q8_0, tq.type());
            assertEquals(68, tq.byteSize());
            assertEquals(0, tq.fileOffset() % alignment);
            assertArrayEquals(q8, tq.data().toArray(ValueLayout.JAVA_BYTE));
            assertNull(f.tensor("missing"));
        }
    }

    @Test
    void streamedTensorDataIsWrittenWhereItsInfoSaysAndItsSizeIsChecked(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("streamed.gguf");
        new GgufWriter().putString("general.architecture", "llama")
                .addTensor("a", GgmlType.F32, new long[] {3}, out -> out.write(new byte[] {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40}))
                .addTensor("b", GgmlType.F32, new long[] {1}, out -> out.write(new byte[] {0, 0, (byte) 0x80, (byte) 0xBF}))
                .write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertArrayEquals(new float[] {1, 2, 3}, f.requireTensor("a").data().toArray(ValueLayout.JAVA_FLOAT.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN)));
            assertEquals(-1f, f.requireTensor("b").data().get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0));
        }
        var short_ = new GgufWriter().addTensor("c", GgmlType.F32, new long[] {2}, out -> out.write(new byte[4]));
        var e = assertThrows(IllegalStateException.class, () -> short_.write(dir.resolve("short.gguf")));
        assertEquals("c: 4 bytes written, 8 declared", e.getMessage());
    }

    @Test
    void tensorViewsAreReadOnly() throws IOException {
        Path p = tmp.resolve("ro.gguf");
        new GgufWriter().addF32Tensor("a", new long[] {4}, new float[4]).write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertTrue(f.tensor("a").data().isReadOnly());
            assertThrows(RuntimeException.class, () -> f.tensor("a").data().set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
        }
    }

    @Test
    void closedFileViewsCannotBeRead() throws IOException {
        Path p = tmp.resolve("c.gguf");
        new GgufWriter().addF32Tensor("a", new long[] {4}, new float[4]).write(p);
        GgufFile f = GgufFile.open(p);
        GgufTensor t = f.tensor("a");
        f.close();
        assertThrows(IllegalStateException.class, () -> t.data().get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void sharedModelsOpenWithExpectedStructure() {
        Path p = TestFiles.model("stories260K.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals("llama", f.metadata().architecture());
            assertEquals(5, f.metadata().getInt("llama.block_count"));
            GgufTensor emb = f.tensor("token_embd.weight");
            assertNotNull(emb);
            assertEquals(f.metadata().getInt("llama.embedding_length"), emb.dim(0));
            assertEquals(f.metadata().getStrings("tokenizer.ggml.tokens").length, emb.dim(1));
            assertEquals(GgmlType.F32, emb.type());
            long params = f.totalElements();
            assertTrue(params > 250_000 && params < 300_000, "stories260K has ~260K parameters, got " + params);
        }
        for (String q : List.of("stories260K-q8_0.gguf", "stories260K-q4_0.gguf")) {
            try (GgufFile f = GgufFile.open(TestFiles.model(q))) {
                GgmlType expected = q.contains("q8") ? GgmlType.Q8_0 : GgmlType.Q4_0;
                assertEquals(expected, f.tensor("blk.0.attn_q.weight").type(), q);
            }
        }
    }

    @Test
    void splitModelLoadsAsOneFromAnyPart() throws IOException {
        writeSplit(tmp, "m", 3, 3);
        for (int part = 1; part <= 3; part++) {
            try (GgufFile f = GgufFile.open(tmp.resolve(String.format("m-%05d-of-00003.gguf", part)))) {
                assertEquals(3, f.paths().size());
                assertEquals(List.of("t0", "t1", "t2"), f.tensors().stream().map(GgufTensor::name).toList());
                assertEquals(2, f.tensor("t2").part());
                assertEquals(2f, f.tensor("t2").data().get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0));
                assertEquals("llama", f.metadata().architecture());
            }
        }
    }

    @Test
    void splitModelWithMissingPartNamesIt() throws IOException {
        writeSplit(tmp, "m", 3, 3);
        Files.delete(tmp.resolve("m-00002-of-00003.gguf"));
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(tmp.resolve("m-00001-of-00003.gguf")));
        assertTrue(e.getMessage().startsWith("m-00002-of-00003.gguf: no such file ("), e.getMessage());
    }

    @Test
    void splitModelWithWrongTensorTotalIsRefused() throws IOException {
        writeSplit(tmp, "m", 2, 5);
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(tmp.resolve("m-00001-of-00002.gguf")));
        assertTrue(e.getMessage().contains("split.tensors.count is 5 but the parts hold 2 tensors"), e.getMessage());
    }

    @Test
    void splitPartsInWrongOrderAreRefused() throws IOException {
        writeSplit(tmp, "m", 2, 2);
        Path a = tmp.resolve("m-00001-of-00002.gguf"), b = tmp.resolve("m-00002-of-00002.gguf");
        Path t = tmp.resolve("swap");
        Files.move(a, t);
        Files.move(b, a);
        Files.move(t, b);
        var e = assertThrows(GgufFormatException.class, () -> GgufFile.open(a));
        assertTrue(e.getMessage().contains("split.no is 1, expected 0"), e.getMessage());
    }

    static void writeSplit(Path dir, String prefix, int parts, int declaredTensors) throws IOException {
        for (int i = 0; i < parts; i++) {
            GgufWriter w = new GgufWriter();
            if (i == 0) w.putString("general.architecture", "llama");
            w.put(GgufFile.KEY_SPLIT_NO, GgufValueType.UINT16, (long) i);
            w.put(GgufFile.KEY_SPLIT_COUNT, GgufValueType.UINT16, (long) parts);
            w.putInt32(GgufFile.KEY_SPLIT_TENSORS, declaredTensors);
            w.addF32Tensor("t" + i, new long[] {4}, new float[] {i, i, i, i});
            w.write(dir.resolve(String.format("%s-%05d-of-%05d.gguf", prefix, i + 1, parts)));
        }
    }
}
