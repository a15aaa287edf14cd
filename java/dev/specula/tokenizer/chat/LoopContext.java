package dev.specula.tokenizer.chat;

import java.util.List;

/** The {@code loop} variable inside a for loop: position, neighbours, cycle() and changed(). */
final class LoopContext {
    private final List<Object> items;
    int index0;
    private Object lastChanged = PyOps.MISSING;

    LoopContext(List<Object> items) {
        this.items = items;
    }

    Object attribute(String name) {
        int length = items.size();
        return switch (name) {
            case "index" -> (long) index0 + 1;
            case "index0" -> (long) index0;
            case "revindex" -> (long) (length - index0);
            case "revindex0" -> (long) (length - index0 - 1);
            case "first" -> index0 == 0;
            case "last" -> index0 == length - 1;
            case "length" -> (long) length;
            case "depth" -> 1L;
            case "depth0" -> 0L;
            case "previtem" -> index0 > 0 ? items.get(index0 - 1) : Undefined.of("there is no previous item");
            case "nextitem" -> index0 + 1 < length ? items.get(index0 + 1) : Undefined.of("there is no next item");
            case "cycle" -> (PyCallable) (args, kwargs) -> {
                if (args.isEmpty()) throw JinjaError.render("no items for cycling given");
                return args.get(index0 % args.size());
            };
            case "changed" -> (PyCallable) (args, kwargs) -> {
                Object value = args.size() == 1 ? args.get(0) : new PyTuple(args);
                boolean changed = lastChanged == PyOps.MISSING || !PyOps.eq(lastChanged, value);
                lastChanged = value;
                return changed;
            };
            default -> Undefined.attribute(this, name);
        };
    }
}
