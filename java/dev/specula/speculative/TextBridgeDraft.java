package dev.specula.speculative;

import dev.specula.tokenizer.Tokenizer;
import java.util.Arrays;

/**
 * A draft model with a different vocabulary ({@code --spec-allow-mismatch}), reached through
 * text: the target's sequence is detokenised and re-tokenised for the draft, the draft's
 * proposals are detokenised and the whole text re-tokenised for the target, and the proposals are
 * the target tokens past the current sequence (none when re-tokenising changed a token before
 * it). The proposals count as deterministic (q puts all mass on them), so rejection sampling
 * stays exact. The cost: two tokenisations of the whole context per round, and proposals lost
 * where the two tokenisers cut the text differently.
 */
public final class TextBridgeDraft implements DraftSource {
    private final ModelDraft draft;
    private final Tokenizer target, draftTokenizer;

    public TextBridgeDraft(ModelDraft draft, Tokenizer target, Tokenizer draftTokenizer) {
        this.draft = draft;
        this.target = target;
        this.draftTokenizer = draftTokenizer;
    }

    @Override
    public Draft propose(int[] history, int length, int max) {
        String text = target.decode(Arrays.copyOf(history, length), false);
        int[] draftTokens = draftTokenizer.encode(text, true, false);
        if (draftTokens.length == 0) return Draft.EMPTY;
        Draft proposal = draft.propose(draftTokens, draftTokens.length, max);
        if (proposal.size() == 0) return Draft.EMPTY;
        String continuation = draftTokenizer.decode(proposal.tokens(), false);
        int[] retokenised = target.encode(text + continuation, history.length > 0 && startsWithBos(history), false);
        int common = 0;
        while (common < length && common < retokenised.length && retokenised[common] == history[common]) common++;
        if (common < length) return Draft.EMPTY;
        int count = Math.min(max, retokenised.length - length);
        return count <= 0 ? Draft.EMPTY : new Draft(Arrays.copyOfRange(retokenised, length, length + count), null);
    }

    private boolean startsWithBos(int[] history) {
        return target.vocabulary().bos >= 0 && history[0] == target.vocabulary().bos;
    }

    @Override
    public void close() {
        draft.close();
    }

    @Override
    public String describe() {
        return "draft model through text (vocabularies differ)";
    }
}
