package dev.specula.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A GGUF model: one file, or the parts of a split model ({@code name-00001-of-00003.gguf})
 * loaded as one. Each part is memory-mapped once; tensors are read-only {@link MemorySegment}
 * views into the mapping, valid until {@link #close()}.
 */
public final class GgufFile implements AutoCloseable {
    /** llama.cpp's split naming: {@code PREFIX-00001-of-00003.gguf}. */
    private static final Pattern SPLIT_NAME = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf");
    public static final String KEY_SPLIT_NO = "split.no";
    public static final String KEY_SPLIT_COUNT = "split.count";
    public static final String KEY_SPLIT_TENSORS = "split.tensors.count";

    private final Arena arena;
    private final List<GgufParser.Part> parts;
    private final List<GgufTensor> tensors;
    private final Map<String, GgufTensor> byName;

    private GgufFile(Arena arena, List<GgufParser.Part> parts) {
        this.arena = arena;
        this.parts = parts;
        List<GgufTensor> all = new ArrayList<>();
        Map<String, GgufTensor> names = new LinkedHashMap<>();
        for (GgufParser.Part p : parts) {
            for (GgufTensor t : p.tensors()) {
                GgufTensor prev = names.putIfAbsent(t.name(), t);
                if (prev != null) {
                    throw new GgufFormatException(p.path(), t.fileOffset(), "tensor '" + t.name()
                            + "' is also in part " + (prev.part() + 1));
                }
                all.add(t);
            }
        }
        this.tensors = Collections.unmodifiableList(all);
        this.byName = Collections.unmodifiableMap(names);
    }

    /** Opens a file (or, given any part of a split model, all its parts). */
    public static GgufFile open(Path path) {
        return open(path, bytes -> {});
    }

    /**
     * Opens and validates a model, reporting the bytes of each part as it is mapped and checked,
     * so a caller can drive a progress bar over a multi-gigabyte split model.
     */
    public static GgufFile open(Path path, LongConsumer progress) {
        List<Path> paths = partPaths(path);
        Arena arena = Arena.ofShared();
        try {
            List<GgufParser.Part> parts = new ArrayList<>();
            for (int i = 0; i < paths.size(); i++) {
                MemorySegment seg = map(paths.get(i), arena);
                parts.add(GgufParser.parse(paths.get(i), seg, i));
                progress.accept(seg.byteSize());
            }
            checkSplit(parts);
            return new GgufFile(arena, List.copyOf(parts));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Total bytes of all parts (for sizing a progress bar before opening). */
    public static long totalBytes(Path path) {
        long total = 0;
        for (Path p : partPaths(path)) {
            try {
                total += Files.size(p);
            } catch (NoSuchFileException e) {
                throw new GgufFormatException(p, -1, "no such file (" + p.toAbsolutePath() + ")");
            } catch (IOException e) {
                throw new GgufFormatException(p, -1, "cannot read: " + e.getMessage());
            }
        }
        return total;
    }

    private static List<Path> partPaths(Path path) {
        Matcher m = SPLIT_NAME.matcher(path.getFileName().toString());
        if (!m.matches()) return List.of(path);
        int count = Integer.parseInt(m.group(3));
        if (count < 1) throw new GgufFormatException(path, -1, "split file name says the model has 0 parts");
        List<Path> paths = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            paths.add(path.resolveSibling(String.format("%s-%05d-of-%05d.gguf", m.group(1), i, count)));
        }
        return paths;
    }

    private static MemorySegment map(Path path, Arena arena) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) throw new GgufFormatException(path, 0, "file is empty");
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (NoSuchFileException e) {
            throw new GgufFormatException(path, -1, "no such file (" + path.toAbsolutePath() + ")");
        } catch (IOException e) {
            throw new GgufFormatException(path, -1, "cannot read: " + e.getMessage());
        }
    }

    private static void checkSplit(List<GgufParser.Part> parts) {
        GgufParser.Part first = parts.get(0);
        int declared = first.metadata().getInt(KEY_SPLIT_COUNT, 1);
        if (parts.size() == 1 && declared <= 1) return;
        if (declared != parts.size()) {
            throw new GgufFormatException(first.path(), first.metadata().get(KEY_SPLIT_COUNT).map(GgufValue::offset).orElse(-1L),
                    KEY_SPLIT_COUNT + " is " + declared + " but the file names give " + parts.size() + " parts");
        }
        long tensorTotal = 0;
        for (int i = 0; i < parts.size(); i++) {
            GgufParser.Part p = parts.get(i);
            GgufMetadata md = p.metadata();
            if (!md.contains(KEY_SPLIT_NO)) throw new GgufFormatException(p.path(), -1, "split part lacks " + KEY_SPLIT_NO);
            if (md.getInt(KEY_SPLIT_NO) != i) {
                throw new GgufFormatException(p.path(), md.get(KEY_SPLIT_NO).get().offset(),
                        KEY_SPLIT_NO + " is " + md.getInt(KEY_SPLIT_NO) + ", expected " + i);
            }
            if (md.getInt(KEY_SPLIT_COUNT, -1) != declared) {
                throw new GgufFormatException(p.path(), -1, KEY_SPLIT_COUNT + " differs from the first part's " + declared);
            }
            tensorTotal += p.tensors().size();
        }
        int expected = first.metadata().getInt(KEY_SPLIT_TENSORS, (int) tensorTotal);
        if (expected != tensorTotal) {
            throw new GgufFormatException(first.path(), first.metadata().get(KEY_SPLIT_TENSORS).get().offset(),
                    KEY_SPLIT_TENSORS + " is " + expected + " but the parts hold " + tensorTotal + " tensors");
        }
    }

    /** The path given to {@link #open} resolves to these files, in part order. */
    public List<Path> paths() {
        return parts.stream().map(GgufParser.Part::path).toList();
    }

    public Path path() {
        return parts.get(0).path();
    }

    public int version() {
        return parts.get(0).version();
    }

    public int alignment() {
        return parts.get(0).alignment();
    }

    /** The model's metadata: the first part's (later parts carry only split bookkeeping). */
    public GgufMetadata metadata() {
        return parts.get(0).metadata();
    }

    public List<GgufTensor> tensors() {
        return tensors;
    }

    /** The tensor with this name, or null. */
    public GgufTensor tensor(String name) {
        return byName.get(name);
    }

    /** The tensor with this name; its absence is a format error naming it. */
    public GgufTensor requireTensor(String name) {
        GgufTensor t = byName.get(name);
        if (t == null) throw new GgufFormatException(path(), -1, "tensor '" + name + "' is missing");
        return t;
    }

    public long totalTensorBytes() {
        long sum = 0;
        for (GgufTensor t : tensors) sum += t.byteSize();
        return sum;
    }

    public long totalElements() {
        long sum = 0;
        for (GgufTensor t : tensors) sum += t.elements();
        return sum;
    }

    @Override
    public void close() {
        arena.close();
    }
}
