package dev.specula.server;

import dev.specula.sampling.SamplingParams;
import java.util.List;

/**
 * One generation request, parsed and checked: what every endpoint asks of a slot.
 *
 * @param endpoint     which API it came in on (the shape of the answer)
 * @param prompt       the prompt's token ids (for chat: the rendered conversation), never empty
 * @param nPredict     most tokens to generate; -1 until end of text or a full context
 * @param sampling     the sampler chain's settings
 * @param stops        stop sequences: generation ends before the first one, which is not returned
 * @param stream       answer with server-sent events as tokens come
 * @param nProbs       how many most likely tokens to report with each generated one (0: none)
 * @param includeUsage OpenAI streaming: send a usage chunk before [DONE]
 * @param ignoreEos    llama.cpp's ignore_eos: end-of-generation tokens are never sampled
 */
record CompletionRequest(Endpoint endpoint, int[] prompt, int nPredict, SamplingParams sampling, List<String> stops,
                         boolean stream, int nProbs, boolean includeUsage, boolean ignoreEos) {}
