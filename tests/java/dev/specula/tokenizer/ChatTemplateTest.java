package dev.specula.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.specula.gguf.GgufFile;
import dev.specula.tokenizer.chat.ChatMessage;
import dev.specula.tokenizer.chat.ChatTemplate;
import dev.specula.tokenizer.chat.ChatTemplateException;
import dev.specula.tokenizer.chat.ChatToolCall;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {
    private static final Path SHARED = Path.of("..", "shared");
    private static final Path TEMPLATES = SHARED.resolve("fixtures/chat-templates");

    private static ChatTemplate fixture(String name) throws Exception {
        Path file = TEMPLATES.resolve(name + ".jinja");
        assumeTrue(Files.exists(file), "fixture " + file + " is absent");
        return ChatTemplate.of(name, Files.readString(file, StandardCharsets.UTF_8));
    }

    @Test
    void aTemplateThatDoesNotParseIsOneErrorNamingTheTemplateLineAndColumn() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.of("broken", "{{ bos_token }}\n  {%- if messages %}{{ 1 + }}{% endif %}"));
        assertEquals(ChatTemplateException.Kind.SYNTAX, e.kind());
        assertEquals(2, e.line());
        assertEquals(28, e.column()); // the "}}" where an operand was expected
        assertTrue(e.getMessage().startsWith("chat template 'broken' has a syntax error at line 2, column 28: "), e.getMessage());
    }

    @Test
    void anUnclosedBlockSaysWhichTagsWouldCloseIt() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> ChatTemplate.of("open", "{% for m in messages %}\n{{ m }}"));
        assertTrue(e.detail().contains("'endfor'"), e.detail());
        assertEquals(2, e.line());
    }

    @Test
    void tagsThatNeedOtherFilesAreRejectedClearly() {
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.of("inc", "{% include 'x' %}"));
        assertEquals("tag 'include' is not supported in chat templates", e.detail());
    }

    @Test
    void raiseExceptionRejectsTheConversationNamingTheTemplateAndPosition() throws Exception {
        ChatTemplate gemma = fixture("google-gemma-2-2b-it").withSpecialTokens("<bos>", "<eos>");
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> gemma.render(List.of(ChatMessage.system("s"), ChatMessage.user("u")), true));
        assertEquals(ChatTemplateException.Kind.RAISED, e.kind());
        assertEquals("System role not supported", e.detail());
        assertEquals(1, e.line());
        assertTrue(e.getMessage().contains("'google-gemma-2-2b-it' rejected the conversation at line 1"), e.getMessage());
    }

    @Test
    void aRenderErrorNamesWhatWasUndefined() {
        ChatTemplate t = ChatTemplate.of("t", "ok\n{{ messages[0]['role'] }}");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(List.of(), false));
        assertEquals(ChatTemplateException.Kind.RENDER, e.kind());
        assertEquals(2, e.line());
        assertEquals("list object has no element 0", e.detail());
    }

    @Test
    void strftimeNowReadsTheInjectedClockInItsZone() {
        Clock clock = Clock.fixed(Instant.parse("2024-12-31T23:30:00Z"), ZoneId.of("Asia/Tokyo"));
        ChatTemplate t = ChatTemplate.of("date", "{{ strftime_now('%d %b %Y %H:%M') }}|{{ strftime_now('%-d %B') }}").withClock(clock);
        assertEquals("01 Jan 2025 08:30|1 January", t.render(List.of(), false));
    }

    @Test
    void specialTokensAreVariablesOnlyWhenTheVocabularyHasThem() {
        ChatTemplate t = ChatTemplate.of("t", "{{ bos_token is defined }} {{ eos_token }}");
        assertEquals("False ", t.render(List.of(), false));
        assertEquals("True </s>", t.withSpecialTokens("<s>", "</s>").render(List.of(), false));
    }

    @Test
    void extraContextReachesTheTemplateAsPythonValues() {
        ChatTemplate t = ChatTemplate.of("t", "{{ n + 1 }} {{ f }} {{ flags }} {{ enable_thinking is false }} {{ tools | tojson }}");
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("n", 3);
        extra.put("f", 1.5f);
        extra.put("flags", List.of(true, "x"));
        extra.put("enable_thinking", false);
        extra.put("tools", List.of(Map.of("name", "f")));
        assertEquals("4 1.5 [True, 'x'] True [{\"name\": \"f\"}]", t.render(List.of(), false, extra));
    }

    @Test
    void messagesAndGenerationPromptCannotComeThroughExtraContext() {
        ChatTemplate t = ChatTemplate.of("t", "x");
        assertThrows(IllegalArgumentException.class, () -> t.render(List.of(), false, Map.of("messages", List.of())));
    }

    @Test
    void aMessageNeedsARole() {
        assertThrows(IllegalArgumentException.class, () -> ChatMessage.fromMap(Map.of("content", "x")));
    }

    @Test
    void messagesBuiltInJavaRenderLikeTheEquivalentJsonConversation() throws Exception {
        ChatTemplate qwen = fixture("Qwen-Qwen3-0.6B").withSpecialTokens(null, "<|im_end|>");
        Map<String, Object> arguments = new LinkedHashMap<>();
        arguments.put("location", "Paris");
        arguments.put("unit", "celsius");
        List<ChatMessage> built = List.of(
                ChatMessage.system("You can check the weather."),
                ChatMessage.user("What's the weather in Paris?"),
                ChatMessage.assistant("").withToolCalls(List.of(new ChatToolCall("call12345", "get_weather", arguments))),
                ChatMessage.tool("call12345", "{\"temperature\": 22, \"condition\": \"sunny\"}").with("name", "get_weather"),
                ChatMessage.assistant("It is 22°C and sunny in Paris."),
                ChatMessage.user("Thanks!"));
        @SuppressWarnings("unchecked")
        Map<String, Object> conversation = (Map<String, Object>) ChatTemplateGoldenTest.conversations().get("tool_calls");
        @SuppressWarnings("unchecked")
        List<ChatMessage> fromJson = ((List<Map<String, Object>>) conversation.get("messages")).stream().map(ChatMessage::fromMap).toList();
        @SuppressWarnings("unchecked")
        Map<String, Object> extra = (Map<String, Object>) conversation.get("extra");
        assertEquals(qwen.render(fromJson, true, extra), qwen.render(built, true, extra));
    }

    @Test
    void reasoningContentIsReadByTemplatesThatUseIt() throws Exception {
        ChatTemplate qwen = fixture("Qwen-Qwen3-0.6B");
        String out = qwen.render(List.of(ChatMessage.user("q"), ChatMessage.assistant("a").withReasoningContent("why")), false);
        assertEquals("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nwhy\n</think>\n\na<|im_end|>\n", out);
    }

    @Test
    void chatmlIsTheDocumentedDefaultAndFormatsLikeLlamaCpp() {
        String out = ChatTemplate.chatml().render(List.of(ChatMessage.system("s"), ChatMessage.user("hi")), true);
        assertEquals("<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", out);
    }

    @Test
    void aModelWithoutATemplateIsAClearErrorUnlessTheCallerOptsIntoChatml() {
        Path model = SHARED.resolve("models/stories260K.gguf");
        assumeTrue(Files.exists(model), "fixture " + model + " is absent");
        try (GgufFile gguf = GgufFile.open(model)) {
            assertFalse(ChatTemplate.findInGguf(gguf.metadata()).isPresent());
            ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> ChatTemplate.fromGguf(gguf.metadata()));
            assertEquals(ChatTemplateException.Kind.MISSING, e.kind());
            assertTrue(e.getMessage().contains("tokenizer.chat_template"), e.getMessage());
            ChatTemplate fallback = ChatTemplate.fromGgufOrChatml(gguf.metadata());
            assertEquals("<|im_start|>user\nOnce<|im_end|>\n", fallback.render(List.of(ChatMessage.user("Once")), false));
            assertThrows(ChatTemplateException.class, () -> ChatTemplate.fromGguf(gguf.metadata(), "tool_use"));
        }
    }

    @Test
    void ggufTemplatesComeWithTheVocabularysBosAndEosTexts() {
        Path vocab = SHARED.resolve("fixtures/tokenizer/ggml-vocab-phi-3.gguf");
        assumeTrue(Files.exists(vocab), "fixture " + vocab + " is absent");
        try (GgufFile gguf = GgufFile.open(vocab)) {
            ChatTemplate t = ChatTemplate.fromGguf(gguf.metadata());
            assertEquals("<s>", t.bosToken());
            assertEquals("<|endoftext|>", t.eosToken());
            assertEquals("<s><|user|>\nHi<|end|>\n<|assistant|>\n", t.render(List.of(ChatMessage.user("Hi")), true));
        }
    }

    @Test
    void aTemplateIsImmutableAndRendersTheSameFromManyThreads() throws Exception {
        ChatTemplate qwen = fixture("Qwen-Qwen2.5-7B-Instruct");
        List<ChatMessage> messages = List.of(ChatMessage.user("hello"));
        String expected = qwen.render(messages, true);
        List<String> outputs = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        List<Thread> threads = new java.util.ArrayList<>();
        for (int i = 0; i < 4; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int j = 0; j < 50; j++) outputs.add(qwen.render(messages, true));
            }));
        }
        for (Thread t : threads) t.join();
        assertEquals(200, outputs.size());
        assertTrue(outputs.stream().allMatch(expected::equals));
    }

    @Test
    void runawayMacroRecursionStopsWithAnError() {
        ChatTemplate t = ChatTemplate.of("rec", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(List.of(), false));
        assertTrue(e.detail().contains("recursion"), e.detail());
    }

    @Test
    void integersBeyondSixtyFourBitsAreAnErrorNotAWrongAnswer() {
        ChatTemplate t = ChatTemplate.of("big", "{{ 10 ** 20 }}");
        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> t.render(List.of(), false));
        assertTrue(e.detail().contains("overflow"), e.detail());
    }
}
