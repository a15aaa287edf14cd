package dev.specula.tokenizer.chat;

import java.util.AbstractList;
import java.util.List;

/** A Python tuple: an immutable sequence that prints with parentheses and never equals a list. */
final class PyTuple extends AbstractList<Object> {
    private final List<Object> items;

    PyTuple(List<Object> items) {
        this.items = List.copyOf(items.stream().map(PyTuple::box).toList());
    }

    static PyTuple of(Object... items) {
        return new PyTuple(java.util.Arrays.asList(items));
    }

    // List.copyOf rejects nulls, so None is held as a marker and unboxed in get().
    private static final Object NONE = new Object();

    private static Object box(Object o) {
        return o == null ? NONE : o;
    }

    @Override
    public Object get(int index) {
        Object o = items.get(index);
        return o == NONE ? null : o;
    }

    @Override
    public int size() {
        return items.size();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PyTuple t && PyOps.eq(this, t);
    }

    @Override
    public int hashCode() {
        return items.hashCode();
    }
}
