package dev.specula.gguf;

import java.util.Arrays;

/**
 * A metadata array. Elements are kept in a primitive Java array matching the element type
 * (byte[] for (U)INT8, short[] for (U)INT16, int[] for (U)INT32, long[] for (U)INT64, float[],
 * double[], boolean[], String[]; nested arrays as GgufArray[]) so that a 150k-entry vocabulary
 * costs one array, not 150k boxes.
 */
public record GgufArray(GgufValueType elementType, Object data) {

    public int size() {
        return java.lang.reflect.Array.getLength(data);
    }

    public String[] asStrings() {
        if (data instanceof String[] s) return s;
        throw new IllegalStateException("array of " + elementType + ", not STRING");
    }

    public float[] asFloats() {
        return switch (data) {
            case float[] f -> f;
            case double[] d -> {
                float[] out = new float[d.length];
                for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
                yield out;
            }
            default -> {
                long[] l = asLongs();
                float[] out = new float[l.length];
                for (int i = 0; i < l.length; i++) out[i] = l[i];
                yield out;
            }
        };
    }

    /** Integer elements widened to long; unsigned types are zero-extended. */
    public long[] asLongs() {
        int n = size();
        long[] out = new long[n];
        switch (data) {
            case long[] l -> System.arraycopy(l, 0, out, 0, n);
            case int[] a -> {
                boolean unsigned = elementType == GgufValueType.UINT32;
                for (int i = 0; i < n; i++) out[i] = unsigned ? Integer.toUnsignedLong(a[i]) : a[i];
            }
            case short[] a -> {
                boolean unsigned = elementType == GgufValueType.UINT16;
                for (int i = 0; i < n; i++) out[i] = unsigned ? Short.toUnsignedLong(a[i]) : a[i];
            }
            case byte[] a -> {
                boolean unsigned = elementType == GgufValueType.UINT8;
                for (int i = 0; i < n; i++) out[i] = unsigned ? Byte.toUnsignedLong(a[i]) : a[i];
            }
            case boolean[] a -> {
                for (int i = 0; i < n; i++) out[i] = a[i] ? 1 : 0;
            }
            default -> throw new IllegalStateException("array of " + elementType + " is not numeric");
        }
        return out;
    }

    /** Integer elements as int; throws if one does not fit. */
    public int[] asInts() {
        if (data instanceof int[] a && elementType == GgufValueType.INT32) return a;
        long[] l = asLongs();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) out[i] = Math.toIntExact(l[i]);
        return out;
    }

    @Override
    public String toString() {
        int n = size();
        StringBuilder sb = new StringBuilder("[");
        int shown = Math.min(n, 8);
        for (int i = 0; i < shown; i++) {
            if (i > 0) sb.append(", ");
            Object e = java.lang.reflect.Array.get(data, i);
            sb.append(e instanceof String s ? '"' + s + '"' : String.valueOf(e));
        }
        if (n > shown) sb.append(", ... (").append(n).append(" ").append(elementType).append(")");
        return sb.append(']').toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufArray a && a.elementType == elementType
                && Arrays.deepEquals(new Object[] {data}, new Object[] {a.data});
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(new Object[] {data});
    }
}
