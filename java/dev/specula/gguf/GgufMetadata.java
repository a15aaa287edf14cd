package dev.specula.gguf;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The key/value metadata of a GGUF file, in file order. Typed getters check the stored type
 * and fail with a {@link GgufFormatException} naming the key, so a model that stores, say, a
 * context length as a string is reported instead of misread.
 */
public final class GgufMetadata {
    private final Path file;
    private final Map<String, GgufValue> values;

    public GgufMetadata(Path file, Map<String, GgufValue> values) {
        this.file = file;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    public Map<String, GgufValue> asMap() {
        return values;
    }

    public Set<String> keys() {
        return values.keySet();
    }

    public boolean contains(String key) {
        return values.containsKey(key);
    }

    public Optional<GgufValue> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    private GgufValue require(String key) {
        GgufValue v = values.get(key);
        if (v == null) throw new GgufFormatException(file, -1, "metadata key '" + key + "' is missing");
        return v;
    }

    private GgufFormatException wrongType(String key, GgufValue v, String expected) {
        return new GgufFormatException(file, v.offset(),
                "metadata key '" + key + "' is " + v.type() + ", expected " + expected);
    }

    public String getString(String key) {
        GgufValue v = require(key);
        if (v.value() instanceof String s) return s;
        throw wrongType(key, v, "STRING");
    }

    public Optional<String> optString(String key) {
        return contains(key) ? Optional.of(getString(key)) : Optional.empty();
    }

    /** Any integer type, range-checked into a long (UINT64 above Long.MAX_VALUE is an error). */
    public long getLong(String key) {
        GgufValue v = require(key);
        if (!v.type().isInteger()) throw wrongType(key, v, "an integer");
        long l = (Long) v.value();
        if (v.type() == GgufValueType.UINT64 && l < 0) {
            throw new GgufFormatException(file, v.offset(), "metadata key '" + key + "' value "
                    + Long.toUnsignedString(l) + " is out of range");
        }
        return l;
    }

    public long getLong(String key, long fallback) {
        return contains(key) ? getLong(key) : fallback;
    }

    public int getInt(String key) {
        long l = getLong(key);
        if (l != (int) l) {
            throw new GgufFormatException(file, values.get(key).offset(),
                    "metadata key '" + key + "' value " + l + " does not fit in 32 bits");
        }
        return (int) l;
    }

    public int getInt(String key, int fallback) {
        return contains(key) ? getInt(key) : fallback;
    }

    /** FLOAT32 or FLOAT64 (integers are accepted too, as converters sometimes write them). */
    public double getDouble(String key) {
        GgufValue v = require(key);
        return switch (v.value()) {
            case Float f -> f;
            case Double d -> d;
            case Long l when v.type().isInteger() -> l;
            default -> throw wrongType(key, v, "a number");
        };
    }

    public float getFloat(String key, float fallback) {
        return contains(key) ? (float) getDouble(key) : fallback;
    }

    public boolean getBool(String key, boolean fallback) {
        if (!contains(key)) return fallback;
        GgufValue v = require(key);
        if (v.value() instanceof Boolean b) return b;
        throw wrongType(key, v, "BOOL");
    }

    public GgufArray getArray(String key) {
        GgufValue v = require(key);
        if (v.value() instanceof GgufArray a) return a;
        throw wrongType(key, v, "ARRAY");
    }

    public Optional<GgufArray> optArray(String key) {
        return contains(key) ? Optional.of(getArray(key)) : Optional.empty();
    }

    public String[] getStrings(String key) {
        GgufArray a = getArray(key);
        if (a.elementType() != GgufValueType.STRING) throw wrongType(key, values.get(key), "ARRAY of STRING");
        return a.asStrings();
    }

    /** llama.cpp's {@code general.architecture}, the prefix of the architecture's own keys. */
    public String architecture() {
        return getString("general.architecture");
    }
}
