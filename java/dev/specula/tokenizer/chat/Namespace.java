package dev.specula.tokenizer.chat;

import java.util.LinkedHashMap;
import java.util.Map;

/** What {@code namespace(...)} returns: the one object a template may assign attributes on. */
final class Namespace {
    final Map<String, Object> attributes = new LinkedHashMap<>();
}
