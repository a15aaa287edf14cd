package dev.specula.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.specula.gguf.GgufFile;
import dev.specula.tokenizer.chat.ChatMessage;
import dev.specula.tokenizer.chat.ChatTemplate;
import dev.specula.tokenizer.chat.ChatTemplateException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every chat template we support, rendered for every conversation in
 * tests/resources/chat/conversations.json, must equal what transformers' apply_chat_template
 * (jinja2) produced, byte for byte; where jinja2 raised, so must we (and a raise_exception
 * message must match exactly). The goldens come from tools/chat-template-golden.py.
 */
class ChatTemplateGoldenTest {
    private static final Path SHARED = Path.of("..", "shared");

    record Golden(String name, String source, String template, String bos, String eos, List<Map<String, Object>> cases) {}

    @SuppressWarnings("unchecked")
    private static Map<String, Object> readJson(Path file) {
        try {
            return (Map<String, Object>) ChatJson.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path goldenDir() {
        try {
            return Path.of(ChatTemplateGoldenTest.class.getResource("/chat/conversations.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Golden> goldens() throws IOException {
        List<Golden> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(goldenDir())) {
            for (Path f : files.sorted().toList()) {
                String file = f.getFileName().toString();
                if (file.equals("conversations.json") || file.equals("jinja-snippets.json")) continue;
                Map<String, Object> g = readJson(f);
                out.add(new Golden((String) g.get("name"), (String) g.get("source"), (String) g.get("template"),
                        (String) g.get("bos_token"), (String) g.get("eos_token"), (List<Map<String, Object>>) g.get("cases")));
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> conversations() {
        return (Map<String, Object>) readJson(goldenDir().resolve("conversations.json")).get("conversations");
    }

    static Clock goldenClock() {
        String iso = (String) readJson(goldenDir().resolve("conversations.json")).get("clock");
        return Clock.fixed(LocalDateTime.parse(iso).toInstant(ZoneOffset.UTC), ZoneOffset.UTC);
    }

    @SuppressWarnings("unchecked")
    static void check(ChatTemplate template, Map<String, Object> conversation, Map<String, Object> c) {
        List<ChatMessage> messages = new ArrayList<>();
        for (Object m : (List<Object>) conversation.get("messages")) messages.add(ChatMessage.fromMap((Map<String, Object>) m));
        Map<String, Object> extra = new LinkedHashMap<>();
        if (conversation.get("extra") != null) extra.putAll((Map<String, Object>) conversation.get("extra"));
        if (c.get("extra") != null) extra.putAll((Map<String, Object>) c.get("extra"));
        boolean agp = (Boolean) c.get("add_generation_prompt");
        if (c.containsKey("expected")) {
            assertEquals(c.get("expected"), template.render(messages, agp, extra));
            return;
        }
        Map<String, Object> error = (Map<String, Object>) c.get("error");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> template.render(messages, agp, extra),
                "jinja2 raised " + error.get("type") + ": " + error.get("message"));
        if ((Boolean) error.get("raised")) {
            assertEquals(ChatTemplateException.Kind.RAISED, e.kind(), e.getMessage());
            assertEquals(error.get("message"), e.detail());
        } else {
            assertEquals(ChatTemplateException.Kind.RENDER, e.kind(), e.getMessage());
        }
    }

    private static String caseName(Map<String, Object> c) {
        return c.get("conversation") + (Boolean.TRUE.equals(c.get("add_generation_prompt")) ? " +generation prompt" : "")
                + (c.get("extra") != null ? " " + c.get("extra") : "");
    }

    @TestFactory
    Stream<DynamicNode> everyTemplateRendersEveryConversationLikeTransformers() throws IOException {
        Map<String, Object> conversations = conversations();
        Clock clock = goldenClock();
        return goldens().stream().map(g -> {
            ChatTemplate template = ChatTemplate.of(g.name(), g.template()).withSpecialTokens(g.bos(), g.eos()).withClock(clock);
            return DynamicContainer.dynamicContainer(g.name(), g.cases().stream().map(c -> DynamicTest.dynamicTest(caseName(c),
                    () -> check(template, (Map<String, Object>) conversations.get(c.get("conversation")), c))));
        });
    }

    @SuppressWarnings("unchecked")
    @TestFactory
    Stream<DynamicNode> ggufTemplatesAreReadWithTheirSpecialTokensAndRenderLikeTransformers() throws IOException {
        Map<String, Object> conversations = conversations();
        Clock clock = goldenClock();
        return goldens().stream().filter(g -> g.source().endsWith(".gguf")).map(g -> DynamicTest.dynamicTest(g.name(), () -> {
            Path file = SHARED.resolve(g.source());
            assumeTrue(Files.exists(file), "fixture " + file + " is absent");
            ChatTemplate template;
            try (GgufFile gguf = GgufFile.open(file)) {
                template = ChatTemplate.fromGguf(gguf.metadata()).withClock(clock);
            }
            assertEquals(g.template(), template.source());
            assertEquals(g.bos(), template.bosToken());
            assertEquals(g.eos(), template.eosToken());
            for (Map<String, Object> c : g.cases()) check(template, (Map<String, Object>) conversations.get(c.get("conversation")), c);
        }));
    }

    @Test
    void theGoldenTemplatesAreTheSharedFixtures() throws IOException {
        for (Golden g : goldens()) {
            Path file = SHARED.resolve(g.source());
            if (!g.source().endsWith(".jinja") || !Files.exists(file)) continue;
            assertEquals(Files.readString(file, StandardCharsets.UTF_8), g.template(), g.source());
        }
    }
}
