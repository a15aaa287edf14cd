// FlashAttention over the F16 KV cache, causal by position (query i sees cache rows 0 ..
// positions[i]), GQA (query head h reads KV head h / (n_heads / n_kv_heads)). Mirrors
// cuda/src/attention.cu:
//  - flash_attn_prefill: SPECULA_FA_BLOCK_Q query rows of one head per threadgroup, keys in blocks
//    of SPECULA_FA_BLOCK_K; S = Q K^T and O += P V on simdgroup matrices (CUDA: mma), online
//    softmax per row with lanes over the block's 32 keys; rows are rescaled by multiplying O by a
//    diagonal matrix of the correction factors.
//  - flash_attn_decode + flash_attn_merge (split-K): for a few query rows over a long context the
//    keys are cut into n_splits ranges, each reduced by one threadgroup to (max, sum, O), then merged.
#include <metal_stdlib>
#include "specula_metal_args.h"
using namespace metal;

constant constexpr int FA_BQ = SPECULA_FA_BLOCK_Q, FA_BK = SPECULA_FA_BLOCK_K, FA_DMAX = SPECULA_FA_MAX_HEAD_DIM;
// Q, K and V tiles (F16), scores (F32), probabilities (F16), 4 diagonal 8x8 matrices, positions.
constant constexpr int FA_SHARED_BYTES = 3 * FA_BQ * FA_DMAX * 2 + FA_BQ * FA_BK * 4 + FA_BQ * FA_BK * 2
                                         + SPECULA_FA_SIMDGROUPS * 64 * 4 + FA_BQ * 4 + 16;

// The token's last visible key, or -1 for a position outside the cache (its row comes out zero),
// raising SPECULA_KERNEL_ERROR_KV_POSITION once when `report`: as the CUDA twin's last_key.
inline int last_key(device const int *positions, int t, int ctx_size, device atomic_uint *errors, bool report) {
    const int p = positions[t];
    if (p < 0 || p >= ctx_size) {
        if (report) atomic_fetch_or_explicit(errors, uint(SPECULA_KERNEL_ERROR_KV_POSITION), memory_order_relaxed);
        return -1;
    }
    return p;
}

kernel void flash_attn_prefill(constant specula_attention_args &a [[buffer(0)]],
                               device const float *q [[buffer(1)]],
                               device const half *cache_k [[buffer(2)]],
                               device const half *cache_v [[buffer(3)]],
                               device const int *positions [[buffer(4)]],
                               device float *out [[buffer(5)]],
                               device atomic_uint *errors [[buffer(7)]],
                               uint2 group [[threadgroup_position_in_grid]],
                               ushort tid [[thread_index_in_threadgroup]],
                               ushort sg [[simdgroup_index_in_threadgroup]],
                               ushort lane [[thread_index_in_simdgroup]]) {
    threadgroup float4 shared[FA_SHARED_BYTES / 16];
    const int D = a.head_dim, q0 = int(group.x) * FA_BQ, h = int(group.y);
    const int g = h / (a.n_heads / a.n_kv_heads), kv_stride = a.n_kv_heads * D;
    threadgroup half *qs = (threadgroup half *)shared;  // FA_BQ x D
    threadgroup half *ks = qs + FA_BQ * D;              // FA_BK x D
    threadgroup half *vs = ks + FA_BK * D;              // FA_BK x D
    threadgroup float *ss = (threadgroup float *)(qs + 3 * FA_BQ * FA_DMAX);  // FA_BQ x FA_BK
    threadgroup half *ps = (threadgroup half *)(ss + FA_BQ * FA_BK);         // FA_BQ x FA_BK
    threadgroup float *diag = (threadgroup float *)(ps + FA_BQ * FA_BK);     // 4 x 8 x 8
    threadgroup int *qpos = (threadgroup int *)(diag + SPECULA_FA_SIMDGROUPS * 64);  // FA_BQ
    threadgroup float *os = (threadgroup float *)shared;  // FA_BQ x D at the end, over the Q/K/V tiles

    for (int i = tid; i < FA_BQ * D; i += SPECULA_FA_SIMDGROUPS * 32) {
        const int t = q0 + i / D;
        qs[i] = t < a.n_tokens ? half(q[((ulong)t * a.n_heads + h) * D + i % D]) : half(0.0f);
    }
    if (tid < FA_BQ) qpos[tid] = q0 + tid < a.n_tokens ? last_key(positions, q0 + tid, a.ctx_size, errors, h == 0) : -1;
    for (int i = tid; i < SPECULA_FA_SIMDGROUPS * 64; i += SPECULA_FA_SIMDGROUPS * 32) diag[i] = 0.0f;
    threadgroup_barrier(mem_flags::mem_threadgroup);
    int last = -1;  // the furthest key any row of the tile sees
    for (int r = 0; r < FA_BQ; r++) last = max(last, qpos[r]);
    const int kend = min(last + 1, a.ctx_size);

    const int r0 = sg * 8;  // this simdgroup's 8 query rows
    float m[8], l[8];
    for (int i = 0; i < 8; i++) { m[i] = -INFINITY; l[i] = 0.0f; }
    simdgroup_float8x8 o[FA_DMAX / 8];
    for (int d = 0; d < D / 8; d++) o[d] = make_filled_simdgroup_matrix<float, 8>(0.0f);

    for (int kb = 0; kb < kend; kb += FA_BK) {
        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (int i = tid; i < FA_BK * D; i += SPECULA_FA_SIMDGROUPS * 32) {
            const int key = kb + i / D;
            const ulong at = (ulong)key * kv_stride + g * D + i % D;
            ks[i] = key < kend ? cache_k[at] : half(0.0f);
            vs[i] = key < kend ? cache_v[at] : half(0.0f);
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);

        // S (8 rows x 32 keys) = Q K^T.
        simdgroup_float8x8 s[FA_BK / 8];
        for (int c = 0; c < FA_BK / 8; c++) s[c] = make_filled_simdgroup_matrix<float, 8>(0.0f);
        for (int k = 0; k < D; k += 8) {
            simdgroup_half8x8 qa;
            simdgroup_load(qa, qs + r0 * D + k, D);
            for (int c = 0; c < FA_BK / 8; c++) {
                simdgroup_half8x8 kt;
                simdgroup_load(kt, ks + 8 * c * D + k, D, ulong2(0), true);
                simdgroup_multiply_accumulate(s[c], qa, kt, s[c]);
            }
        }
        for (int c = 0; c < FA_BK / 8; c++) simdgroup_store(s[c], ss + r0 * FA_BK + 8 * c, FA_BK);
        simdgroup_barrier(mem_flags::mem_threadgroup);

        // Online softmax, one row at a time, lane = key.
        for (int i = 0; i < 8; i++) {
            const int r = r0 + i, key = kb + lane;
            const bool seen = key < kend && key <= qpos[r];
            const float sv = seen ? ss[r * FA_BK + lane] * a.scale : -INFINITY;
            const float m_new = max(m[i], simd_max(sv));
            const float p = m_new == -INFINITY ? 0.0f : exp(sv - m_new);
            const float alpha = m_new == -INFINITY ? 1.0f : exp(m[i] - m_new);
            l[i] = l[i] * alpha + simd_sum(p);
            m[i] = m_new;
            ps[r * FA_BK + lane] = half(p);
            if (lane == 0) diag[sg * 64 + i * 9] = alpha;
        }
        simdgroup_barrier(mem_flags::mem_threadgroup);

        // O = diag(alpha) O + P V.
        simdgroup_float8x8 scale;
        simdgroup_load(scale, diag + sg * 64, 8);
        for (int d = 0; d < D / 8; d++) simdgroup_multiply(o[d], scale, o[d]);
        for (int c = 0; c < FA_BK / 8; c++) {
            simdgroup_half8x8 pa;
            simdgroup_load(pa, ps + r0 * FA_BK + 8 * c, FA_BK);
            for (int d = 0; d < D / 8; d++) {
                simdgroup_half8x8 vb;
                simdgroup_load(vb, vs + 8 * c * D + 8 * d, D);
                simdgroup_multiply_accumulate(o[d], pa, vb, o[d]);
            }
        }
    }

    threadgroup_barrier(mem_flags::mem_threadgroup);  // every simdgroup is done with the K/V tiles
    for (int d = 0; d < D / 8; d++) simdgroup_store(o[d], os + r0 * D + 8 * d, D);
    simdgroup_barrier(mem_flags::mem_threadgroup);
    for (int i = 0; i < 8; i++) {
        const int t = q0 + r0 + i;
        if (t >= a.n_tokens) break;
        const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        for (int d = lane; d < D; d += 32) out[((ulong)t * a.n_heads + h) * D + d] = os[(r0 + i) * D + d] * inv;
    }
}

// One (split, head, token): keys [split * keys_per_split, ...) up to the token's position, spread
// over 4 simdgroups (lanes over head_dim), combined in threadgroup memory, written as
// (max, sum, O[head_dim]) to the partials (n_tokens x n_heads x n_splits x (head_dim + 2) floats).
kernel void flash_attn_decode(constant specula_attention_args &a [[buffer(0)]],
                              device const float *q [[buffer(1)]],
                              device const half *cache_k [[buffer(2)]],
                              device const half *cache_v [[buffer(3)]],
                              device const int *positions [[buffer(4)]],
                              device float *partials [[buffer(5)]],
                              device atomic_uint *errors [[buffer(7)]],
                              uint3 group [[threadgroup_position_in_grid]],
                              ushort sg [[simdgroup_index_in_threadgroup]],
                              ushort lane [[thread_index_in_simdgroup]]) {
    threadgroup float ms[SPECULA_FA_DECODE_SIMDGROUPS], ls[SPECULA_FA_DECODE_SIMDGROUPS];
    threadgroup float osum[SPECULA_FA_DECODE_SIMDGROUPS * FA_DMAX];
    const int split = int(group.x), h = int(group.y), t = int(group.z), D = a.head_dim;
    const int g = h / (a.n_heads / a.n_kv_heads), kv_stride = a.n_kv_heads * D;
    const int kend = last_key(positions, t, a.ctx_size, errors, h == 0 && split == 0 && sg == 0 && lane == 0) + 1;
    const int k0 = split * a.keys_per_split, k1 = min(k0 + a.keys_per_split, kend);
    device const float *qr = q + ((ulong)t * a.n_heads + h) * D;

    float qv[FA_DMAX / 32], ov[FA_DMAX / 32];
    for (int i = 0; i < FA_DMAX / 32; i++) {
        const int d = lane + 32 * i;
        qv[i] = d < D ? qr[d] * a.scale : 0.0f;
        ov[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int key = k0 + sg; key < k1; key += SPECULA_FA_DECODE_SIMDGROUPS) {
        device const half *kr = cache_k + (ulong)key * kv_stride + g * D;
        device const half *vr = cache_v + (ulong)key * kv_stride + g * D;
        float s = 0.0f;
        for (int i = 0; i < FA_DMAX / 32; i++) {
            const int d = lane + 32 * i;
            if (d < D) s += qv[i] * float(kr[d]);
        }
        s = simd_sum(s);
        const float m_new = max(m, s), alpha = exp(m - m_new), p = exp(s - m_new);
        l = l * alpha + p;
        for (int i = 0; i < FA_DMAX / 32; i++) {
            const int d = lane + 32 * i;
            ov[i] = ov[i] * alpha + (d < D ? p * float(vr[d]) : 0.0f);
        }
        m = m_new;
    }
    if (lane == 0) { ms[sg] = m; ls[sg] = l; }
    for (int i = 0; i < FA_DMAX / 32; i++) osum[sg * FA_DMAX + lane + 32 * i] = ov[i];
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (sg != 0) return;
    float mt = -INFINITY;
    for (int s = 0; s < SPECULA_FA_DECODE_SIMDGROUPS; s++) mt = max(mt, ms[s]);
    device float *part = partials + (((ulong)t * a.n_heads + h) * a.n_splits + split) * (D + 2);
    float lt = 0.0f;
    for (int s = 0; s < SPECULA_FA_DECODE_SIMDGROUPS; s++) lt += mt == -INFINITY ? 0.0f : ls[s] * exp(ms[s] - mt);
    for (int d = lane; d < D; d += 32) {
        float v = 0.0f;
        for (int s = 0; s < SPECULA_FA_DECODE_SIMDGROUPS; s++) v += mt == -INFINITY ? 0.0f : osum[s * FA_DMAX + d] * exp(ms[s] - mt);
        part[2 + d] = v;
    }
    if (lane == 0) { part[0] = mt; part[1] = lt; }
}

// One (head, token): out = sum_s O_s e^(m_s - M) / sum_s l_s e^(m_s - M) over the splits.
kernel void flash_attn_merge(constant specula_attention_args &a [[buffer(0)]],
                             device const float *partials [[buffer(1)]],
                             device float *out [[buffer(2)]],
                             uint2 group [[threadgroup_position_in_grid]],
                             ushort tid [[thread_index_in_threadgroup]]) {
    const int h = int(group.x), t = int(group.y), D = a.head_dim;
    device const float *parts = partials + ((ulong)t * a.n_heads + h) * a.n_splits * (D + 2);
    float mt = -INFINITY;
    for (int s = 0; s < a.n_splits; s++) mt = max(mt, parts[s * (D + 2)]);
    float lt = 0.0f;
    for (int s = 0; s < a.n_splits; s++) {
        const float ms = parts[s * (D + 2)];
        if (ms != -INFINITY) lt += parts[s * (D + 2) + 1] * exp(ms - mt);
    }
    const float inv = lt > 0.0f ? 1.0f / lt : 0.0f;
    for (int d = tid; d < D; d += 32 * SPECULA_FA_DECODE_SIMDGROUPS) {
        float v = 0.0f;
        for (int s = 0; s < a.n_splits; s++) {
            const float ms = parts[s * (D + 2)];
            if (ms != -INFINITY) v += parts[s * (D + 2) + 2 + d] * exp(ms - mt);
        }
        out[((ulong)t * a.n_heads + h) * D + d] = v * inv;
    }
}
