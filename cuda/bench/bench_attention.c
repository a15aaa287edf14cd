/* build/bench_attention: FlashAttention prefill (seq 4096, head_dim 128, 32 heads, causal) in
 * TFLOP/s, counting the causal half of 4 seq^2 head_dim heads as PyTorch's benchmarks do; and
 * split-K decode (one token, 32 query / 8 KV heads) at contexts 4096 and 16384, in microseconds
 * and GB/s of KV cache read. */
#include "bench_common.h"

typedef struct attn_call {
    specula_attention_params p;
    specula_buffer *q, *k, *v, *pos, *out;
} attn_call;

static void run_flash(void *arg) {
    attn_call *c = arg;
    BENCH_OK(specula_flash_attention(bench_stream, &c->p, c->q, 0, c->k, 0, c->v, 0, c->pos, 0, c->out, 0));
}

static void setup(attn_call *c, int n_tokens, int heads, int kv_heads, int ctx, int first) {
    const int D = 128;
    specula_attention_params p = {n_tokens, heads, kv_heads, D, ctx, 0.08838834764831845f};
    c->p = p;
    c->q = bench_alloc((uint64_t)n_tokens * heads * D * 4, 0x3c);
    c->k = bench_alloc((uint64_t)ctx * kv_heads * D * 2, 0x2c); /* F16 0x2c2c: about 0.06 */
    c->v = bench_alloc((uint64_t)ctx * kv_heads * D * 2, 0x30);
    c->out = bench_alloc((uint64_t)n_tokens * heads * D * 4, 0);
    int32_t *pos = malloc(sizeof(int32_t) * n_tokens);
    for (int i = 0; i < n_tokens; i++) pos[i] = first + i;
    BENCH_OK(specula_buffer_alloc(0, 4ull * n_tokens, &c->pos));
    BENCH_OK(specula_buffer_upload(c->pos, 0, pos, 4ull * n_tokens, NULL));
    free(pos);
}

static void release(attn_call *c) {
    specula_buffer_free(c->q);
    specula_buffer_free(c->k);
    specula_buffer_free(c->v);
    specula_buffer_free(c->pos);
    specula_buffer_free(c->out);
}

int main(void) {
    if (!bench_open("bench_attention")) return 0;
    attn_call c;
    const int seq = 4096;
    setup(&c, seq, 32, 32, seq, 0);
    double ms = bench_time(run_flash, &c, 3, 10);
    const double flops = 4.0 * seq * seq * 128 * 32 / 2;
    printf("flash prefill seq %d, head_dim 128, 32 heads, causal: %.3f ms, %.1f TFLOP/s\n", seq, ms, flops / (ms * 1e9));
    release(&c);
    const int contexts[2] = {4096, 16384};
    for (int i = 0; i < 2; i++) {
        setup(&c, 1, 32, 8, contexts[i], contexts[i] - 1);
        ms = bench_time(run_flash, &c, 5, 100);
        const double bytes = 2.0 * contexts[i] * 8 * 128 * 2;
        printf("flash decode ctx %d, 32/8 heads, head_dim 128: %.1f us, %.1f GB/s of KV cache\n", contexts[i], ms * 1e3,
               bytes / (ms * 1e6));
        release(&c);
    }
    return 0;
}
