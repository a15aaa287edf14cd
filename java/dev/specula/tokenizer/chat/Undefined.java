package dev.specula.tokenizer.chat;

/**
 * Jinja's undefined value: what a missing variable, key, attribute or list element evaluates
 * to. It prints as nothing, is false, iterates as empty and has length 0; any other use
 * (attribute, item, call, arithmetic) is an error carrying {@link #hint()}.
 */
final class Undefined {
    private final String hint;

    private Undefined(String hint) {
        this.hint = hint;
    }

    static Undefined of(String hint) {
        return new Undefined(hint);
    }

    static Undefined name(String name) {
        return new Undefined("'" + name + "' is undefined");
    }

    static Undefined attribute(Object owner, String attribute) {
        return new Undefined(PyOps.ownerDescription(owner) + " has no attribute '" + attribute + "'");
    }

    static Undefined element(Object owner, Object key) {
        if (key instanceof String s) return attribute(owner, s);
        return new Undefined(PyOps.typeName(owner) + " object has no element " + PyText.repr(key));
    }

    String hint() {
        return hint;
    }

    JinjaError error() {
        return JinjaError.render(hint);
    }

    @Override
    public String toString() {
        return "Undefined";
    }
}
