package dev.specula.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.specula.tokenizer.chat.ChatTemplate;
import dev.specula.tokenizer.chat.ChatTemplateException;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The Jinja semantics chat templates depend on (whitespace control, Python printing of values,
 * operators, scoping, loops, filters, tests, error cases and syntax-error lines), each pinned by
 * a small template whose jinja2 output is in tests/resources/chat/jinja-snippets.json.
 */
class ChatJinjaSemanticsTest {
    @SuppressWarnings("unchecked")
    @TestFactory
    Stream<DynamicTest> everySnippetRendersLikeJinja2() throws IOException, URISyntaxException {
        Path file = Path.of(getClass().getResource("/chat/jinja-snippets.json").toURI());
        Map<String, Object> golden = (Map<String, Object>) ChatJson.parse(Files.readString(file, StandardCharsets.UTF_8));
        Clock clock = Clock.fixed(LocalDateTime.parse((String) golden.get("clock")).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
        List<Map<String, Object>> snippets = (List<Map<String, Object>>) golden.get("snippets");
        return snippets.stream().map(s -> DynamicTest.dynamicTest(abbreviate((String) s.get("template")), () -> {
            String source = (String) s.get("template");
            Map<String, Object> context = (Map<String, Object>) s.get("context");
            Map<String, Object> error = (Map<String, Object>) s.get("error");
            if (error != null && Boolean.TRUE.equals(error.get("syntax"))) {
                ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.of("snippet", source),
                        "jinja2: " + error.get("message"));
                assertEquals(ChatTemplateException.Kind.SYNTAX, e.kind(), e.getMessage());
                assertEquals(((Long) error.get("line")).intValue(), e.line(), e.getMessage());
                return;
            }
            ChatTemplate template = ChatTemplate.of("snippet", source).withClock(clock);
            if (error == null) {
                assertEquals(s.get("expected"), template.render(List.of(), false, context));
                return;
            }
            ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> template.render(List.of(), false, context),
                    "jinja2 raised " + error.get("type") + ": " + error.get("message"));
            if ((Boolean) error.get("raised")) {
                assertEquals(ChatTemplateException.Kind.RAISED, e.kind(), e.getMessage());
                assertEquals(error.get("message"), e.detail());
            } else {
                assertEquals(ChatTemplateException.Kind.RENDER, e.kind(), e.getMessage());
            }
        }));
    }

    private static String abbreviate(String template) {
        String oneLine = template.replace("\n", "\\n");
        return oneLine.length() > 60 ? oneLine.substring(0, 60) + "..." : oneLine;
    }
}
