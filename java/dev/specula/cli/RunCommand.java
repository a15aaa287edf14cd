package dev.specula.cli;

import dev.specula.engine.Decoding;
import dev.specula.engine.Generator;
import dev.specula.engine.KvCache;
import dev.specula.engine.Transformer;
import dev.specula.gguf.GgufFile;
import dev.specula.model.ModelConfig;
import dev.specula.model.ModelWeights;
import dev.specula.sampling.Sampler;
import dev.specula.sampling.SamplingParams;
import dev.specula.speculative.SpeculativeDecoder;
import dev.specula.tokenizer.StreamingDecoder;
import dev.specula.tokenizer.Tokenizer;
import dev.specula.tokenizer.chat.ChatMessage;
import dev.specula.tokenizer.chat.ChatTemplate;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code specula run}: generate text from a prompt (or chat), streaming tokens as they come. */
@Command(name = "run", description = "Generate text with a GGUF model on the CPU or a GPU (llama.cpp-compatible flags).")
final class RunCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "prompt")
    String prompt;
    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "read the prompt from FILE")
    Path promptFile;
    @Option(names = {"-n", "--n-predict"}, paramLabel = "N", description = "tokens to generate (default: -1, until end of text or full context)")
    int nPredict = -1;
    @Option(names = "--temp", paramLabel = "T", description = "temperature; 0 = greedy (default: 0.8)")
    float temperature = SamplingParams.DEFAULT_TEMPERATURE;
    @Option(names = "--top-k", paramLabel = "K", description = "top-k (default: 40; 0 = off)")
    int topK = SamplingParams.DEFAULT_TOP_K;
    @Option(names = "--top-p", paramLabel = "P", description = "top-p (default: 0.95; 1 = off)")
    float topP = SamplingParams.DEFAULT_TOP_P;
    @Option(names = "--min-p", paramLabel = "P", description = "min-p (default: 0.05; 0 = off)")
    float minP = SamplingParams.DEFAULT_MIN_P;
    @Option(names = "--repeat-penalty", paramLabel = "X", description = "repetition penalty (default: 1.0 = off)")
    float repeatPenalty = SamplingParams.DEFAULT_REPEAT_PENALTY;
    @Option(names = "--repeat-last-n", paramLabel = "N", description = "tokens the penalties look back over (default: 64)")
    int repeatLastN = SamplingParams.DEFAULT_REPEAT_LAST_N;
    @Option(names = "--presence-penalty", paramLabel = "X", description = "presence penalty (default: 0)")
    float presencePenalty;
    @Option(names = "--frequency-penalty", paramLabel = "X", description = "frequency penalty (default: 0)")
    float frequencyPenalty;
    @Option(names = {"-s", "--seed"}, paramLabel = "N", description = "random seed (default: random)")
    long seed = SamplingParams.RANDOM_SEED;
    @Option(names = {"-cnv", "--conversation", "--chat"}, description = "apply the model's chat template; interactive when stdin is a terminal")
    boolean chat;
    @Option(names = {"-sys", "--system-prompt"}, paramLabel = "TEXT", description = "system message in chat mode")
    String systemPrompt;
    @Option(names = "--chat-template-chatml", description = "use ChatML when the file has no chat template")
    boolean chatmlFallback;
    @Mixin
    ModelOptions options = new ModelOptions();
    @Mixin
    DraftOptions draft = new DraftOptions();
    @Mixin
    DeviceOption device = new DeviceOption();

    /**
     * Where chat mode reads the user's lines. Null (the default): standard input, and the chat is
     * interactive only when it is a terminal. Set (tests): read from it, always interactive.
     */
    Reader input;

    /**
     * One chat turn: the tokens in the context once the user's message is added, how many of them
     * had to be evaluated (the rest were already in the KV cache), and the tokens generated.
     */
    record Turn(int[] context, long evaluatedTokens, int[] generated) {}

    /** The turns of the last chat, in order. */
    final List<Turn> turns = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        String text = promptText();
        SamplingParams params;
        try {
            params = new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed);
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
        KvCache.Precision precision = options.precision();
        boolean fa = options.flashAttention();
        int threads = options.threads;
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (GgufFile f = LoadProgress.open(options.model)) {
            ModelConfig c = ModelConfig.from(f);
            Tokenizer tok = Tokenizer.fromGguf(f);
            int ctx = options.contextFor(c);
            DeviceOption.Backend backend = device.choose(f, c, ctx, precision, options.batch, err);
            options.checkPrecision(backend);
            try (Transformer m = device.open(backend, c, new ModelWeights(f, c), threads, fa, err);
                 KvCache cache = m.newCache(ctx, precision);
                 DraftOptions.Handle h = draft.enabled() ? draft.open(tok, ctx, threads, fa, precision, params, device, backend, err) : null) {
                Decoding gen = h == null ? new Generator(m, cache, options.batch)
                        : new SpeculativeDecoder(m, cache, options.batch, h.source(), draft.options());
                Sampler sampler = new Sampler(params);
                if (chat) chat(f, tok, gen, sampler, text, out, err);
                else complete(tok, gen, sampler, text, out);
                printTimings(gen, err);
                if (gen instanceof SpeculativeDecoder s) printDraftStats(s, err);
            }
        }
        return 0;
    }

    private String promptText() throws IOException {
        if (prompt != null && promptFile != null) throw new UserError("give the prompt with -p or -f, not both");
        if (promptFile == null) return prompt;
        try {
            return Files.readString(promptFile, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserError("-f: no such file " + promptFile);
        }
    }

    private void complete(Tokenizer tok, Decoding gen, Sampler sampler, String text, PrintWriter out) {
        if (text == null) throw new UserError("run needs a prompt: -p TEXT or -f FILE (or -cnv for chat)");
        int[] ids = checkFits(tok.encode(text, true, false), gen);
        out.print(text);
        out.flush();
        for (int id : ids) sampler.accept(id);
        gen.setSequence(ids);
        // The output continues the prompt just printed: its first word keeps its space.
        StreamingDecoder d = tok.continuationDecoder(false);
        gen.generate(sampler, nPredict, tok.vocabulary()::isEndOfGeneration, id -> {
            out.print(d.accept(id));
            out.flush();
        });
        out.println(d.flush());
    }

    /**
     * Chat as llama.cpp's conversation mode does: the first message is -p/-f (if given), then, when
     * interactive, "> " and a line at a time until EOF or /exit. Each turn renders the whole
     * conversation but tokenises and evaluates only what was added since the previous turn (the
     * closing of the last answer and the new user message): the KV cache keeps every earlier turn,
     * exactly the tokens that were evaluated or generated. When a template rewrites earlier turns
     * (the rendering no longer starts with what the cache holds), the whole rendering is tokenised
     * and the cache keeps the longest common prefix.
     */
    private void chat(GgufFile f, Tokenizer tok, Decoding gen, Sampler sampler, String first, PrintWriter out,
                      PrintWriter err) throws IOException {
        ChatTemplate template = chatmlFallback ? ChatTemplate.fromGgufOrChatml(f.metadata()) : ChatTemplate.fromGguf(f.metadata());
        List<ChatMessage> messages = new ArrayList<>();
        if (systemPrompt != null) messages.add(ChatMessage.system(systemPrompt));
        boolean interactive = input != null || System.console() != null && System.console().isTerminal();
        BufferedReader in = new BufferedReader(input != null ? input : new InputStreamReader(System.in, StandardCharsets.UTF_8));
        turns.clear();
        int capacity = gen.cache().capacity();
        String cachedText = null; // the rendered conversation whose tokens the cache holds
        String user = first;
        while (true) {
            if (user == null) {
                if (!interactive) return;
                out.print("\n> ");
                out.flush();
                user = in.readLine();
                if (user == null) { // EOF
                    out.println();
                    return;
                }
                if (user.strip().equals("/exit")) return;
                if (user.isBlank()) {
                    user = null;
                    continue;
                }
            }
            messages.add(ChatMessage.user(user));
            String rendered = template.render(messages, true);
            int[] ids;
            if (cachedText != null && rendered.startsWith(cachedText)) {
                int[] held = gen.sequence();
                // The template writes BOS and special tokens itself: parse them, add none.
                int[] added = tok.encode(rendered.substring(cachedText.length()), false, true);
                ids = Arrays.copyOf(held, held.length + added.length);
                System.arraycopy(added, 0, ids, held.length, added.length);
            } else {
                ids = tok.encode(rendered, false, true);
            }
            if (ids.length >= capacity) {
                if (!interactive) checkFits(ids, gen);
                err.println("specula: context full: the conversation needs " + ids.length + " tokens but the context holds "
                        + capacity + "; ending the chat (raise -c for longer ones)");
                err.flush();
                return;
            }
            long evaluatedBefore = gen.promptTokens();
            gen.setSequence(ids);
            StreamingDecoder d = tok.streamingDecoder(false);
            StringBuilder reply = new StringBuilder();
            int[] generated = gen.generate(sampler, nPredict, tok.vocabulary()::isEndOfGeneration, id -> {
                if (tok.vocabulary().isEndOfGeneration(id)) return; // not part of the answer, nor in the cache
                String piece = d.accept(id);
                reply.append(piece);
                out.print(piece);
                out.flush();
            });
            String tail = d.flush();
            reply.append(tail);
            out.println(tail);
            out.flush();
            messages.add(ChatMessage.assistant(reply.toString()));
            turns.add(new Turn(ids, gen.promptTokens() - evaluatedBefore, generated));
            cachedText = rendered + reply;
            if (gen.cache().length() >= capacity) {
                err.println("specula: context full (" + capacity + " tokens): the answer was cut short; ending the chat"
                        + " (raise -c for longer ones)");
                err.flush();
                return;
            }
            if (!interactive) return;
            user = null;
        }
    }

    private static int[] checkFits(int[] ids, Decoding gen) {
        if (ids.length >= gen.cache().capacity()) {
            throw new UserError("the prompt has " + ids.length + " tokens but the context holds " + gen.cache().capacity() + " (raise -c)");
        }
        return ids;
    }

    static void printTimings(Decoding g, PrintWriter err) {
        err.println();
        err.printf(Locale.ROOT, "specula: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)%n",
                g.promptNanos() / 1e6, g.promptTokens(), perToken(g.promptNanos(), g.promptTokens()), perSecond(g.promptNanos(), g.promptTokens()));
        err.printf(Locale.ROOT, "specula:        eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)%n",
                g.generationNanos() / 1e6, g.generatedTokens(), perToken(g.generationNanos(), g.generatedTokens()),
                perSecond(g.generationNanos(), g.generatedTokens()));
        err.flush();
    }

    /**
     * llama.cpp's draft statistics, plus the speed-up over the target alone, estimated from the
     * target's own single-token step time measured at the end of this run.
     */
    static void printDraftStats(SpeculativeDecoder s, PrintWriter err) {
        double rate = perSecond(s.generationNanos(), s.generatedTokens());
        long step = s.measureTargetStep(5);
        double alone = step == 0 ? 0 : 1e9 / step;
        err.printf(Locale.ROOT, "specula: draft: %s, draft_n = %d, draft_n_accepted = %d, acceptance = %.1f %%, %.2f tokens per round (%d rounds)%n",
                s.draft().describe(), s.draftN, s.draftAccepted, 100 * s.acceptanceRate(), s.tokensPerRound(), s.rounds);
        if (alone > 0) {
            err.printf(Locale.ROOT, "specula: speculative %.2f tokens per second; target alone about %.2f (one decode step, measured now): speed-up %.2fx%n",
                    rate, alone, rate / alone);
        }
        err.flush();
    }

    private static double perToken(long nanos, long n) {
        return n == 0 ? 0 : nanos / 1e6 / n;
    }

    private static double perSecond(long nanos, long n) {
        return nanos == 0 ? 0 : n * 1e9 / nanos;
    }
}
