package dev.specula.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into words before byte-level BPE, per {@code tokenizer.ggml.pre}. Each variant is a
 * list of regular expressions applied in turn, as llama.cpp applies them: every expression splits
 * each piece into its matches and the text between them, which is kept too.
 */
final class PreTokenizer {
    private static final String CONTRACTIONS_CI = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    private static final String LLAMA3 = CONTRACTIONS_CI
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2 = CONTRACTIONS_CI
            + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
    // Non-ASCII characters as \x{...} escapes: some (U+1FD3, U+212A, ...) are not stable under NFC.
    private static final List<String> DEEPSEEK_LLM = List.of(
            "[\r\n]",
            "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
            "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
            "\\s+$",
            "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
            "\\p{N}+");
    private static final List<String> DEEPSEEK_CODER = List.of(
            "[\r\n]",
            "\\s?\\p{L}+",
            "\\s?\\p{P}+",
            "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
            "\\p{N}");
    private static final List<String> FALCON = List.of(
            "[\\p{P}\\$\\+<=>\\^~\\|`]+",
            GPT2,
            "[0-9][0-9][0-9]");
    private static final List<String> DEFAULT = List.of("[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]");
    private static final List<String> STARCODER = List.of("\\p{N}", GPT2);

    /** tokenizer.ggml.pre names llama.cpp uses, to the expressions of each. */
    private static final Map<String, List<String>> BY_NAME = Map.ofEntries(
            Map.entry("llama3", List.of(LLAMA3)), Map.entry("llama-bpe", List.of(LLAMA3)),
            Map.entry("llama-v3", List.of(LLAMA3)), Map.entry("smaug-bpe", List.of(LLAMA3)),
            Map.entry("dbrx", List.of(LLAMA3)), Map.entry("pixtral", List.of(LLAMA3)),
            Map.entry("qwen2", List.of(QWEN2)), Map.entry("deepseek-r1-qwen", List.of(QWEN2)),
            Map.entry("stablelm2", List.of(QWEN2)), Map.entry("hunyuan", List.of(QWEN2)),
            Map.entry("gpt-2", List.of(GPT2)), Map.entry("gpt2", List.of(GPT2)), Map.entry("phi-2", List.of(GPT2)),
            Map.entry("mpt", List.of(GPT2)), Map.entry("olmo", List.of(GPT2)), Map.entry("jais", List.of(GPT2)),
            Map.entry("deepseek-llm", DEEPSEEK_LLM), Map.entry("deepseek-coder", DEEPSEEK_CODER),
            Map.entry("falcon", FALCON), Map.entry("starcoder", STARCODER), Map.entry("refact", STARCODER),
            Map.entry("smollm", STARCODER), Map.entry("codeshell", STARCODER),
            Map.entry("default", DEFAULT));

    /** Variants that take a whole word as one token when the vocabulary has it, before merging. */
    static final java.util.Set<String> IGNORE_MERGES = java.util.Set.of("llama3", "llama-bpe", "llama-v3");

    private final List<Pattern> patterns;

    private PreTokenizer(List<Pattern> patterns) {
        this.patterns = patterns;
    }

    /** The pre-tokenizer named {@code pre}, or null when Specula does not know it. */
    static PreTokenizer named(String pre) {
        List<String> regexes = BY_NAME.get(pre);
        if (regexes == null) return null;
        return new PreTokenizer(regexes.stream().map(r -> Pattern.compile(r, Pattern.UNICODE_CHARACTER_CLASS)).toList());
    }

    static java.util.Set<String> names() {
        return new java.util.TreeSet<>(BY_NAME.keySet());
    }

    List<String> split(String text) {
        List<String> pieces = List.of(text);
        for (Pattern p : patterns) {
            List<String> next = new ArrayList<>();
            for (String piece : pieces) {
                Matcher m = p.matcher(piece);
                int at = 0;
                while (m.find()) {
                    if (m.end() == m.start()) continue;
                    if (m.start() > at) next.add(piece.substring(at, m.start()));
                    next.add(m.group());
                    at = m.end();
                }
                if (at < piece.length()) next.add(piece.substring(at));
            }
            pieces = next;
        }
        return pieces;
    }
}
