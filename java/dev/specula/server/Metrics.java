package dev.specula.server;

import java.util.Locale;

/** /metrics in the Prometheus text format: requests by outcome, tokens, speeds, speculative acceptance, slots and queue. */
final class Metrics {
    private final ServerStats s;
    private final SlotScheduler scheduler;

    Metrics(ServerStats stats, SlotScheduler scheduler) {
        this.s = stats;
        this.scheduler = scheduler;
    }

    String text() {
        StringBuilder b = new StringBuilder();
        b.append("# HELP specula_requests_total Generation requests by outcome.\n# TYPE specula_requests_total counter\n");
        outcome(b, "completed", s.completed.sum());
        outcome(b, "cancelled", s.cancelled.sum());
        outcome(b, "failed", s.failed.sum());
        outcome(b, "rejected", s.rejected.sum());
        outcome(b, "invalid", s.invalid.sum());
        long prompt = s.promptTokens.sum(), predicted = s.predictedTokens.sum();
        metric(b, "specula_prompt_tokens_total", "counter", "Prompt tokens evaluated.", prompt);
        metric(b, "specula_tokens_predicted_total", "counter", "Tokens generated.", predicted);
        metric(b, "specula_prompt_seconds_total", "counter", "Time spent evaluating prompts.", s.promptNanos.sum() / 1e9);
        metric(b, "specula_tokens_predicted_seconds_total", "counter", "Time spent generating.", s.predictedNanos.sum() / 1e9);
        metric(b, "specula_prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.", rate(prompt, s.promptNanos.sum()));
        metric(b, "specula_predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s, all slots together.",
                rate(predicted, s.predictedNanos.sum()));
        long draftN = s.draftN.sum(), accepted = s.draftAccepted.sum();
        metric(b, "specula_draft_tokens_total", "counter", "Draft tokens the target checked.", draftN);
        metric(b, "specula_draft_tokens_accepted_total", "counter", "Draft tokens the target accepted.", accepted);
        metric(b, "specula_draft_acceptance_ratio", "gauge", "Accepted over checked draft tokens.", draftN == 0 ? 0 : (double) accepted / draftN);
        metric(b, "specula_decode_steps_total", "counter", "Decoding steps: batched target passes.", s.steps.sum());
        metric(b, "specula_speculative_rounds_total", "counter", "Speculative rounds, one per slot per step.", s.rounds.sum());
        metric(b, "specula_slots", "gauge", "Slots (-np).", scheduler.slotCount());
        metric(b, "specula_requests_processing", "gauge", "Busy slots.", scheduler.busySlots());
        metric(b, "specula_requests_deferred", "gauge", "Requests waiting for a slot (queue depth).", scheduler.queued());
        return b.toString();
    }

    private static void outcome(StringBuilder b, String outcome, long n) {
        b.append("specula_requests_total{outcome=\"").append(outcome).append("\"} ").append(n).append('\n');
    }

    private static void metric(StringBuilder b, String name, String type, String help, double value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        b.append(name).append(' ').append(value == Math.rint(value) && Math.abs(value) < 1e15
                ? String.valueOf((long) value) : String.format(Locale.ROOT, "%.6g", value)).append('\n');
    }

    private static double rate(long tokens, long nanos) {
        return nanos == 0 ? 0 : tokens * 1e9 / nanos;
    }
}
