// The fused small ops, plain attention and byte copies. Mirrors cuda/src/ops.cu (with
// rope.cuh) and the plain attention of cuda/src/attention.cu.
#include <metal_stdlib>
#include "quants.h"
#include "specula_metal_args.h"
using namespace metal;

// The sum of v over the threadgroup (SPECULA_ROW_THREADS threads = 8 simdgroups), given to all.
inline float group_sum(float v, threadgroup float *scratch, ushort sg, ushort lane) {
    v = simd_sum(v);
    if (lane == 0) scratch[sg] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float total = 0.0f;
    for (int i = 0; i < SPECULA_ROW_THREADS / 32; i++) total += scratch[i];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return total;
}

inline float group_max(float v, threadgroup float *scratch, ushort sg, ushort lane) {
    v = simd_max(v);
    if (lane == 0) scratch[sg] = v;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float best = -INFINITY;
    for (int i = 0; i < SPECULA_ROW_THREADS / 32; i++) best = max(best, scratch[i]);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    return best;
}

// One threadgroup per row: y = x / sqrt(mean(x^2) + eps) * weight.
kernel void rms_norm(constant specula_rms_norm_args &a [[buffer(0)]],
                     device const float *x [[buffer(1)]],
                     device const float *weight [[buffer(2)]],
                     device float *y [[buffer(3)]],
                     uint row [[threadgroup_position_in_grid]],
                     ushort tid [[thread_index_in_threadgroup]],
                     ushort sg [[simdgroup_index_in_threadgroup]],
                     ushort lane [[thread_index_in_simdgroup]]) {
    threadgroup float scratch[SPECULA_ROW_THREADS / 32];
    device const float *xr = x + (ulong)row * a.dim;
    device float *yr = y + (ulong)row * a.dim;
    float ss = 0.0f;
    for (int i = tid; i < a.dim; i += SPECULA_ROW_THREADS) ss += xr[i] * xr[i];
    const float inv = rsqrt(group_sum(ss, scratch, sg, lane) / float(a.dim) + a.eps);
    for (int i = tid; i < a.dim; i += SPECULA_ROW_THREADS) yr[i] = xr[i] * inv * weight[i];
}

kernel void add(constant specula_elementwise_args &a [[buffer(0)]],
                device const float *x [[buffer(1)]],
                device const float *b [[buffer(2)]],
                device float *y [[buffer(3)]],
                uint i [[thread_position_in_grid]]) {
    if (int(i) < a.n) y[i] = x[i] + b[i];
}

kernel void swiglu(constant specula_elementwise_args &a [[buffer(0)]],
                   device const float *gate [[buffer(1)]],
                   device const float *up [[buffer(2)]],
                   device float *y [[buffer(3)]],
                   uint i [[thread_position_in_grid]]) {
    if (int(i) >= a.n) return;
    const float g = gate[i];
    y[i] = g / (1.0f + exp(-g)) * up[i];
}

// One threadgroup per row, in place: x = softmax(x * scale).
kernel void softmax(constant specula_softmax_args &a [[buffer(0)]],
                    device float *x [[buffer(1)]],
                    uint row [[threadgroup_position_in_grid]],
                    ushort tid [[thread_index_in_threadgroup]],
                    ushort sg [[simdgroup_index_in_threadgroup]],
                    ushort lane [[thread_index_in_simdgroup]]) {
    threadgroup float scratch[SPECULA_ROW_THREADS / 32];
    device float *xr = x + (ulong)row * a.n_cols;
    float mx = -INFINITY;
    for (int i = tid; i < a.n_cols; i += SPECULA_ROW_THREADS) mx = max(mx, xr[i] * a.scale);
    mx = group_max(mx, scratch, sg, lane);
    float sum = 0.0f;
    for (int i = tid; i < a.n_cols; i += SPECULA_ROW_THREADS) {
        const float e = mx == -INFINITY ? 0.0f : exp(xr[i] * a.scale - mx);  // a row of -inf gives zeros
        xr[i] = e;
        sum += e;
    }
    sum = group_sum(sum, scratch, sg, lane);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int i = tid; i < a.n_cols; i += SPECULA_ROW_THREADS) xr[i] *= inv;
}

// One threadgroup per id: y[t] = table row ids[t], dequantised 32 weights per thread step. An id
// outside the table writes a zero row and raises SPECULA_KERNEL_ERROR_EMBEDDING_ID.
template <typename F>
kernel void embedding(constant specula_embedding_args &a [[buffer(0)]],
                      device const uchar *table [[buffer(1)]],
                      device const int *ids [[buffer(2)]],
                      device float *y [[buffer(3)]],
                      device atomic_uint *errors [[buffer(7)]],
                      uint t [[threadgroup_position_in_grid]],
                      ushort tid [[thread_index_in_threadgroup]]) {
    const int id = ids[t];
    device float *yr = y + (ulong)t * a.dim;
    const bool bad = id < 0 || id >= a.rows;
    if (bad && tid == 0) atomic_fetch_or_explicit(errors, uint(SPECULA_KERNEL_ERROR_EMBEDDING_ID), memory_order_relaxed);
    float wu[SPECULA_UNIT];
    for (int u = tid; u < a.dim / SPECULA_UNIT; u += SPECULA_ROW_THREADS) {
        if (bad) for (int i = 0; i < SPECULA_UNIT; i++) wu[i] = 0.0f;
        else F::unit(table + (ulong)id * a.row_bytes, u, wu);
        for (int i = 0; i < SPECULA_UNIT; i++) yr[u * SPECULA_UNIT + i] = wu[i];
    }
}

#define SPECULA_EMBEDDING(name, F)                                                                         \
    template SPECULA_HOST_NAME(name) kernel void embedding<F>(constant specula_embedding_args &, device const uchar *, \
                                                              device const int *, device float *, device atomic_uint *, uint, ushort)
SPECULA_EMBEDDING("embedding_f32", format_f32);
SPECULA_EMBEDDING("embedding_f16", format_f16);
SPECULA_EMBEDDING("embedding_bf16", format_bf16);
SPECULA_EMBEDDING("embedding_q4_0", format_q4_0);
SPECULA_EMBEDDING("embedding_q8_0", format_q8_0);
SPECULA_EMBEDDING("embedding_q4_k", format_q4_k);
SPECULA_EMBEDDING("embedding_q5_k", format_q5_k);
SPECULA_EMBEDDING("embedding_q6_k", format_q6_k);

// YaRN's ramp between the corrected dimensions (ggml's rope_yarn_ramp).
inline float rope_yarn_ramp(float low, float high, int i0) {
    const float y = (float(i0 / 2) - low) / max(0.001f, high - low);
    return 1.0f - min(1.0f, max(0.0f, y));
}

// One thread per rotated pair of one head of one token (grid.y = token), in place.
kernel void rope(constant specula_rope_args &a [[buffer(0)]],
                 device float *x [[buffer(1)]],
                 device const int *positions [[buffer(2)]],
                 device const float *freq_factors [[buffer(3)]],
                 uint2 gid [[thread_position_in_grid]]) {
    const int pairs = a.rope_dim / 2, i = int(gid.x), t = int(gid.y);
    if (i >= a.n_heads * pairs) return;
    const int head = i / pairs, p = i % pairs;
    // cuda/src/rope.cuh's order (there in double, here in float: Metal has none): the pair's
    // frequency, divided by its factor, times YaRN's mix of interpolation and extrapolation, then
    // the angle position x frequency. attn_factor is the magnitude (YaRN's factor included).
    float freq = precise::pow(a.freq_base, -2.0f * float(p) / float(a.rope_dim));
    if (a.has_freq_factors) freq /= freq_factors[p];
    const float mix = a.ext_factor != 0.0f ? rope_yarn_ramp(a.corr_low, a.corr_high, 2 * p) * a.ext_factor : 0.0f;
    freq *= a.freq_scale * (1.0f - mix) + mix;
    const float theta = float(positions[t]) * freq, mscale = a.attn_factor;
    const float c = cos(theta) * mscale, s = sin(theta) * mscale;
    device float *xh = x + ((ulong)t * a.n_heads + head) * a.head_dim;
    const int i0 = a.mode == 2 ? p : 2 * p, i1 = a.mode == 2 ? p + pairs : 2 * p + 1;
    const float x0 = xh[i0], x1 = xh[i1];
    xh[i0] = x0 * c - x1 * s;
    xh[i1] = x0 * s + x1 * c;
}

// One thread per element of one token (grid.y = token): the F16 caches' row positions[t] = k, v.
kernel void kv_store(constant specula_kv_store_args &a [[buffer(0)]],
                     device const float *k [[buffer(1)]],
                     device const float *v [[buffer(2)]],
                     device half *cache_k [[buffer(3)]],
                     device half *cache_v [[buffer(4)]],
                     device const int *positions [[buffer(5)]],
                     device atomic_uint *errors [[buffer(7)]],
                     uint2 gid [[thread_position_in_grid]]) {
    const int e = int(gid.x), t = int(gid.y);
    if (e >= a.kv_dim) return;
    const int p = positions[t];
    if (p < 0 || p >= a.ctx_size) {
        if (e == 0) atomic_fetch_or_explicit(errors, uint(SPECULA_KERNEL_ERROR_KV_POSITION), memory_order_relaxed);
        return;
    }
    cache_k[(ulong)p * a.kv_dim + e] = half(k[(ulong)t * a.kv_dim + e]);
    cache_v[(ulong)p * a.kv_dim + e] = half(v[(ulong)t * a.kv_dim + e]);
}

// Plain attention, step 1: scores[t][h][key] = q . k * scale, -inf past the token's position.
// One thread per key (grid.x), head (grid.y) and token (grid.z).
kernel void attn_scores(constant specula_attention_args &a [[buffer(0)]],
                        device const float *q [[buffer(1)]],
                        device const half *cache_k [[buffer(2)]],
                        device const int *positions [[buffer(3)]],
                        device float *scores [[buffer(4)]],
                        device atomic_uint *errors [[buffer(7)]],
                        uint3 gid [[thread_position_in_grid]]) {
    const int key = int(gid.x), h = int(gid.y), t = int(gid.z), D = a.head_dim;
    if (key >= a.ctx_size) return;
    const int g = h / (a.n_heads / a.n_kv_heads);
    // The token's last visible key; a position outside the cache sees none (its row comes out
    // zero) and raises the sticky error once, as the CUDA twin does.
    const int p = positions[t], last = p < 0 || p >= a.ctx_size ? -1 : p;
    if (last < 0 && key == 0 && h == 0) atomic_fetch_or_explicit(errors, uint(SPECULA_KERNEL_ERROR_KV_POSITION), memory_order_relaxed);
    float s = -INFINITY;
    if (key <= last) {
        device const float *qr = q + ((ulong)t * a.n_heads + h) * D;
        device const half *kr = cache_k + ((ulong)key * a.n_kv_heads + g) * D;
        s = 0.0f;
        // Queries rounded to F16, as the flash kernels' tiles hold them (and the CUDA twin does).
        for (int d = 0; d < D; d++) s += float(half(qr[d])) * float(kr[d]);
        s *= a.scale;
    }
    scores[((ulong)t * a.n_heads + h) * a.ctx_size + key] = s;
}

// Step 3 (after softmax over each row of scores): out[t][h][d] = sum_key p[key] v[key][d].
// One thread per dimension (grid.x), head (grid.y) and token (grid.z).
kernel void attn_output(constant specula_attention_args &a [[buffer(0)]],
                        device const float *probs [[buffer(1)]],
                        device const half *cache_v [[buffer(2)]],
                        device const int *positions [[buffer(3)]],
                        device float *out [[buffer(4)]],
                        uint3 gid [[thread_position_in_grid]]) {
    const int d = int(gid.x), h = int(gid.y), t = int(gid.z), D = a.head_dim;
    if (d >= D) return;
    const int g = h / (a.n_heads / a.n_kv_heads), p = positions[t], last = p < 0 || p >= a.ctx_size ? -1 : p;
    device const float *pr = probs + ((ulong)t * a.n_heads + h) * a.ctx_size;
    float acc = 0.0f;
    for (int key = 0; key <= last; key++) acc += pr[key] * float(cache_v[((ulong)key * a.n_kv_heads + g) * D + d]);
    out[((ulong)t * a.n_heads + h) * D + d] = acc;
}

// Byte copy for ranges the blit encoder cannot take (not multiples of 4 bytes).
kernel void copy_bytes(constant specula_elementwise_args &a [[buffer(0)]],
                       device const uchar *src [[buffer(1)]],
                       device uchar *dst [[buffer(2)]],
                       uint i [[thread_position_in_grid]]) {
    if (int(i) < a.n) dst[i] = src[i];
}
