// Attention over the F16 KV cache, causal by position (query i sees cache rows 0 .. positions[i],
// read from device memory), GQA (query head h reads KV head h / (n_heads / n_kv_heads)). A
// position outside the cache raises SPECULA_KERNEL_ERROR_KV_POSITION and gives that row zeros,
// as the CPU twin does. The Metal twin is metal/kernels/flash_attention.metal (and ops.metal for
// the plain path).
//  - flash_prefill<D>: FA_BLOCK_Q query rows of one head per block, keys in blocks of FA_BLOCK_K;
//    S = Q K^T and O += P V on tensor cores (WMMA 16x16x16, F16 in, F32 accumulation), online
//    softmax per row with lanes over the block's 32 keys. O lives in shared memory (F32), so the
//    per-row rescaling needs no knowledge of the fragment layout.
//  - flash_decode + flash_merge (split-K), chosen for n_tokens <= FA_DECODE_MAX_TOKENS: the keys
//    are cut into n_splits ranges fixed by ctx_size (so a recorded step replays at any position),
//    each reduced by one block of 4 warps to (max, sum, O); a second kernel merges the ranges.
//  - plain: scores (q.k scaled, -inf past the position) into scratch, row softmax, times V.
#include "cuda_internal.cuh"

#include <cuda_fp16.h>
#include <mma.h>

namespace {

using namespace nvcuda;

constexpr int BQ = SPECULA_FA_BLOCK_Q, BK = SPECULA_FA_BLOCK_K, FA_WARPS = SPECULA_FA_SIMDGROUPS;
constexpr int FA_THREADS = 32 * FA_WARPS, DMAX = SPECULA_FA_MAX_HEAD_DIM;
constexpr int DEC_WARPS = SPECULA_FA_DECODE_SIMDGROUPS, DEC_THREADS = 32 * DEC_WARPS;
constexpr int LDP = BK + 8;  // halves per row of the probability tile
static_assert(BQ == 32 && BK == 32 && FA_WARPS == 4, "the warp layout below assumes 32 x 32 tiles and 4 warps");

struct attn_args {
    int n_tokens, n_heads, n_kv_heads, head_dim, ctx_size;
    float scale;
    int n_splits, keys_per_split;
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// The token's last visible key, or -1 (with the sticky error raised once) for a bad position.
__device__ __forceinline__ int last_key(const int32_t *positions, int t, int ctx_size, unsigned int *errors, bool report) {
    const int p = positions[t];
    if (p < 0 || p >= ctx_size) {
        if (report) atomicOr(errors, (unsigned int)SPECULA_KERNEL_ERROR_KV_POSITION);
        return -1;
    }
    return p;
}

template <int D>
__global__ void __launch_bounds__(FA_THREADS)
flash_prefill(attn_args a, const float *__restrict__ q, const __half *__restrict__ cache_k, const __half *__restrict__ cache_v,
              const int32_t *__restrict__ positions, float *__restrict__ out, unsigned int *errors) {
    constexpr int LDK = D + 8;  // halves per K/V row (against bank conflicts); Q and O are unpadded
    static_assert(D % 16 == 0 && D <= DMAX, "head_dim");
    __shared__ __align__(32) __half qs[BQ * D];
    __shared__ __align__(32) __half ks[BK * LDK];
    __shared__ __align__(32) __half vs[BK * LDK];
    __shared__ __align__(32) float ss[BQ * BK];
    __shared__ __align__(32) __half ps[BQ * LDP];
    __shared__ __align__(32) float os[BQ * D];
    __shared__ float alpha_s[BQ], l_s[BQ];
    __shared__ int qpos[BQ];

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int q0 = blockIdx.x * BQ, h = blockIdx.y;
    const int g = h / (a.n_heads / a.n_kv_heads);
    const size_t kv_stride = (size_t)a.n_kv_heads * D;

    for (int i = tid; i < BQ * D / 4; i += FA_THREADS) {
        const int r = i / (D / 4), c = (i % (D / 4)) * 4, t = q0 + r;
        float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (t < a.n_tokens) v = *reinterpret_cast<const float4 *>(q + ((size_t)t * a.n_heads + h) * D + c);
        __half2 *dst = reinterpret_cast<__half2 *>(qs + r * D + c);
        dst[0] = __floats2half2_rn(v.x, v.y);
        dst[1] = __floats2half2_rn(v.z, v.w);
    }
    for (int i = tid; i < BQ * D; i += FA_THREADS) os[i] = 0.0f;
    if (tid < BQ) qpos[tid] = q0 + tid < a.n_tokens ? last_key(positions, q0 + tid, a.ctx_size, errors, h == 0) : -1;
    __syncthreads();
    int last = -1;  // the furthest key any row of the tile sees
#pragma unroll 8
    for (int r = 0; r < BQ; r++) last = max(last, qpos[r]);
    const int kend = last + 1;

    const int r0 = warp * 8;  // this warp's 8 rows for the softmax
    float m[8], l[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
    }

    for (int kb = 0; kb < kend; kb += BK) {
        for (int i = tid; i < BK * D / 8; i += FA_THREADS) {
            const int r = i / (D / 8), c = (i % (D / 8)) * 8, key = kb + r;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
            if (key < kend) {
                const size_t at = (size_t)key * kv_stride + (size_t)g * D + c;
                kv = *reinterpret_cast<const uint4 *>(cache_k + at);
                vv = *reinterpret_cast<const uint4 *>(cache_v + at);
            }
            *reinterpret_cast<uint4 *>(ks + r * LDK + c) = kv;
            *reinterpret_cast<uint4 *>(vs + r * LDK + c) = vv;
        }
        __syncthreads();

        {  // S = Q K^T: warp w computes rows 16 (w / 2) .. +16, keys 16 (w % 2) .. +16
            const int ti = warp / 2, tj = warp % 2;
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> s;
            wmma::fill_fragment(s, 0.0f);
#pragma unroll
            for (int k = 0; k < D; k += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kb_frag;  // (d, key) = K[key][d]
                wmma::load_matrix_sync(qa, qs + 16 * ti * D + k, D);
                wmma::load_matrix_sync(kb_frag, ks + 16 * tj * LDK + k, LDK);
                wmma::mma_sync(s, qa, kb_frag, s);
            }
            wmma::store_matrix_sync(ss + 16 * ti * BK + 16 * tj, s, BK, wmma::mem_row_major);
        }
        __syncthreads();

        // Online softmax, one row at a time, lane = key.
#pragma unroll
        for (int i = 0; i < 8; i++) {
            const int r = r0 + i, key = kb + lane;
            const bool seen = key < kend && key <= qpos[r];
            const float sv = seen ? ss[r * BK + lane] * a.scale : -INFINITY;
            const float m_new = fmaxf(m[i], warp_max(sv));
            const float p = m_new == -INFINITY ? 0.0f : __expf(sv - m_new);
            const float alpha = m_new == -INFINITY ? 1.0f : __expf(m[i] - m_new);
            l[i] = l[i] * alpha + warp_sum(p);
            m[i] = m_new;
            ps[r * LDP + lane] = __float2half_rn(p);
            if (lane == 0) alpha_s[r] = alpha;
        }
        __syncthreads();
        for (int i = tid; i < BQ * D; i += FA_THREADS) os[i] *= alpha_s[i / D];
        __syncthreads();

        // O += P V: 2 x D/16 tiles of 16 x 16 over the 4 warps.
        for (int t = warp; t < 2 * (D / 16); t += FA_WARPS) {
            const int ti = t / (D / 16), tj = t % (D / 16);
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> o;
            wmma::load_matrix_sync(o, os + 16 * ti * D + 16 * tj, D, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < BK; kk += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vb;  // (key, d)
                wmma::load_matrix_sync(pa, ps + 16 * ti * LDP + kk, LDP);
                wmma::load_matrix_sync(vb, vs + kk * LDK + 16 * tj, LDK);
                wmma::mma_sync(o, pa, vb, o);
            }
            wmma::store_matrix_sync(os + 16 * ti * D + 16 * tj, o, D, wmma::mem_row_major);
        }
        __syncthreads();  // K/V/P tiles and O are reused by the next key block
    }

    if (lane == 0) {
#pragma unroll
        for (int i = 0; i < 8; i++) l_s[r0 + i] = l[i];
    }
    __syncthreads();
    for (int i = tid; i < BQ * D; i += FA_THREADS) {
        const int r = i / D, t = q0 + r;
        if (t < a.n_tokens) out[((size_t)t * a.n_heads + h) * D + i % D] = l_s[r] > 0.0f ? os[i] / l_s[r] : 0.0f;
    }
}

// One (split, head, token): keys [split * keys_per_split, ...) up to the token's position, over 4
// warps (each a key at a time, lanes over head_dim), combined in shared memory and written as
// (max, sum, O[head_dim]) to the partials (n_tokens x n_heads x n_splits x (head_dim + 2) floats).
__global__ void __launch_bounds__(DEC_THREADS)
flash_decode(attn_args a, const float *__restrict__ q, const __half *__restrict__ cache_k, const __half *__restrict__ cache_v,
             const int32_t *__restrict__ positions, float *__restrict__ partials, unsigned int *errors) {
    __shared__ float ms[DEC_WARPS], ls[DEC_WARPS];
    __shared__ float osum[DEC_WARPS * DMAX];
    const int split = blockIdx.x, h = blockIdx.y, t = blockIdx.z, D = a.head_dim;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = h / (a.n_heads / a.n_kv_heads);
    const size_t kv_stride = (size_t)a.n_kv_heads * D;
    const int kend = last_key(positions, t, a.ctx_size, errors, split == 0 && h == 0 && threadIdx.x == 0) + 1;
    const int k0 = split * a.keys_per_split, k1 = min(k0 + a.keys_per_split, kend);
    const float *qr = q + ((size_t)t * a.n_heads + h) * D;

    float qv[DMAX / 32], ov[DMAX / 32];
#pragma unroll
    for (int i = 0; i < DMAX / 32; i++) {
        const int d = lane + 32 * i;
        qv[i] = d < D ? __half2float(__float2half_rn(qr[d])) : 0.0f;  // queries rounded to F16, as the prefill tiles
        ov[i] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int key = k0 + warp; key < k1; key += DEC_WARPS) {
        const __half *kr = cache_k + (size_t)key * kv_stride + (size_t)g * D;
        const __half *vr = cache_v + (size_t)key * kv_stride + (size_t)g * D;
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < DMAX / 32; i++) {
            const int d = lane + 32 * i;
            if (d < D) s += qv[i] * __half2float(kr[d]);
        }
        s = warp_sum(s) * a.scale;
        const float m_new = fmaxf(m, s), alpha = __expf(m - m_new), p = __expf(s - m_new);
        l = l * alpha + p;
#pragma unroll
        for (int i = 0; i < DMAX / 32; i++) {
            const int d = lane + 32 * i;
            ov[i] = ov[i] * alpha + (d < D ? p * __half2float(vr[d]) : 0.0f);
        }
        m = m_new;
    }
    if (lane == 0) {
        ms[warp] = m;
        ls[warp] = l;
    }
#pragma unroll
    for (int i = 0; i < DMAX / 32; i++) osum[warp * DMAX + lane + 32 * i] = ov[i];
    __syncthreads();
    if (warp != 0) return;
    float mt = -INFINITY;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) mt = fmaxf(mt, ms[w]);
    float *part = partials + (((size_t)t * a.n_heads + h) * a.n_splits + split) * (D + 2);
    float lt = 0.0f;
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) lt += ms[w] == -INFINITY ? 0.0f : ls[w] * __expf(ms[w] - mt);
    for (int d = lane; d < D; d += 32) {
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++) v += ms[w] == -INFINITY ? 0.0f : osum[w * DMAX + d] * __expf(ms[w] - mt);
        part[2 + d] = v;
    }
    if (lane == 0) {
        part[0] = mt;
        part[1] = lt;
    }
}

// One (head, token): out = sum_s O_s e^(m_s - M) / sum_s l_s e^(m_s - M) over the splits.
__global__ void __launch_bounds__(DEC_THREADS) flash_merge(attn_args a, const float *__restrict__ partials, float *__restrict__ out) {
    const int h = blockIdx.x, t = blockIdx.y, D = a.head_dim;
    const float *parts = partials + ((size_t)t * a.n_heads + h) * a.n_splits * (D + 2);
    float mt = -INFINITY;
    for (int s = 0; s < a.n_splits; s++) mt = fmaxf(mt, parts[s * (D + 2)]);
    float lt = 0.0f;
    for (int s = 0; s < a.n_splits; s++) {
        const float ms = parts[s * (D + 2)];
        if (ms != -INFINITY) lt += parts[s * (D + 2) + 1] * __expf(ms - mt);
    }
    const float inv = lt > 0.0f ? 1.0f / lt : 0.0f;
    for (int d = threadIdx.x; d < D; d += DEC_THREADS) {
        float v = 0.0f;
        for (int s = 0; s < a.n_splits; s++) {
            const float ms = parts[s * (D + 2)];
            if (ms != -INFINITY) v += parts[s * (D + 2) + 2 + d] * __expf(ms - mt);
        }
        out[((size_t)t * a.n_heads + h) * D + d] = v * inv;
    }
}

// Plain attention, step 1: scores[t][h][key] = q . k * scale (q rounded to F16), -inf past the
// token's position. One thread per key (grid.x), head (grid.y), token (grid.z).
__global__ void attn_scores(attn_args a, const float *__restrict__ q, const __half *__restrict__ cache_k,
                            const int32_t *__restrict__ positions, float *__restrict__ scores, unsigned int *errors) {
    const int key = blockIdx.x * blockDim.x + threadIdx.x, h = blockIdx.y, t = blockIdx.z, D = a.head_dim;
    if (key >= a.ctx_size) return;
    const int g = h / (a.n_heads / a.n_kv_heads);
    const int last = last_key(positions, t, a.ctx_size, errors, key == 0 && h == 0);
    float s = -INFINITY;
    if (key <= last) {
        const float *qr = q + ((size_t)t * a.n_heads + h) * D;
        const __half *kr = cache_k + ((size_t)key * a.n_kv_heads + g) * D;
        s = 0.0f;
        for (int d = 0; d < D; d++) s += __half2float(__float2half_rn(qr[d])) * __half2float(kr[d]);
        s *= a.scale;
    }
    scores[((size_t)t * a.n_heads + h) * a.ctx_size + key] = s;
}

// Step 3 (after the softmax of each row of scores): out[t][h][d] = sum_key p[key] v[key][d].
// One thread per dimension (grid.x), head (grid.y), token (grid.z).
__global__ void attn_output(attn_args a, const float *__restrict__ probs, const __half *__restrict__ cache_v,
                            const int32_t *__restrict__ positions, float *__restrict__ out) {
    const int d = blockIdx.x * blockDim.x + threadIdx.x, h = blockIdx.y, t = blockIdx.z, D = a.head_dim;
    if (d >= D) return;
    const int g = h / (a.n_heads / a.n_kv_heads);
    const int p = positions[t], last = p < 0 || p >= a.ctx_size ? -1 : p;
    const float *pr = probs + ((size_t)t * a.n_heads + h) * a.ctx_size;
    float acc = 0.0f;
    for (int key = 0; key <= last; key++) acc += pr[key] * __half2float(cache_v[((size_t)key * a.n_kv_heads + g) * D + d]);
    out[((size_t)t * a.n_heads + h) * D + d] = acc;
}

int32_t check_attention(const char *fn, specula_stream *stream, const specula_attention_params *p, bool flash,
                        const specula_buffer *q, uint64_t q_offset, const specula_buffer *cache_k, uint64_t cache_k_offset,
                        const specula_buffer *cache_v, uint64_t cache_v_offset, const specula_buffer *positions,
                        uint64_t positions_offset, const specula_buffer *out, uint64_t out_offset) {
    int32_t s = specula_cuda_begin(fn, stream);
    if (s != SPECULA_OK) return s;
    if (p == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: params is NULL", fn);
    if (p->n_tokens < 1 || p->n_tokens > 65535 || p->n_heads < 1 || p->n_heads > 65535 || p->n_kv_heads < 1 ||
        p->n_heads % p->n_kv_heads != 0 || p->head_dim < 1 || p->ctx_size < 1) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT,
                            "%s: n_tokens %d (1 .. 65535), n_heads %d (a multiple of n_kv_heads %d), head_dim %d, ctx_size %d", fn,
                            p->n_tokens, p->n_heads, p->n_kv_heads, p->head_dim, p->ctx_size);
    }
    if (flash && p->head_dim != 64 && p->head_dim != 80 && p->head_dim != 96 && p->head_dim != 128) {
        return specula_fail(SPECULA_ERROR_UNSUPPORTED, "%s: head_dim %d (64, 80, 96 or 128)", fn, p->head_dim);
    }
    const uint64_t rows = (uint64_t)p->n_tokens * p->n_heads * p->head_dim;
    const uint64_t cache = (uint64_t)p->ctx_size * p->n_kv_heads * p->head_dim * 2;
    // Flash loads 16 bytes at a time: q rows and cache rows stay 16-byte aligned from aligned bases.
    SPECULA_NEED(fn, stream, q, q_offset, rows * 4, flash ? 16 : 4, "q");
    SPECULA_NEED(fn, stream, cache_k, cache_k_offset, cache, flash ? 16 : 2, "cache_k");
    SPECULA_NEED(fn, stream, cache_v, cache_v_offset, cache, flash ? 16 : 2, "cache_v");
    SPECULA_NEED(fn, stream, positions, positions_offset, (uint64_t)p->n_tokens * 4, 4, "positions");
    SPECULA_NEED(fn, stream, out, out_offset, rows * 4, 4, "out");
    return SPECULA_OK;
}

attn_args args_of(const specula_attention_params *p) {
    return attn_args{p->n_tokens, p->n_heads, p->n_kv_heads, p->head_dim, p->ctx_size, p->scale, 0, 0};
}

}  // namespace

extern "C" int32_t specula_flash_attention(specula_stream *stream, const specula_attention_params *p, const specula_buffer *q,
                                           uint64_t q_offset, const specula_buffer *cache_k, uint64_t cache_k_offset,
                                           const specula_buffer *cache_v, uint64_t cache_v_offset,
                                           const specula_buffer *positions, uint64_t positions_offset, specula_buffer *out,
                                           uint64_t out_offset) {
    const char *fn = "specula_flash_attention";
    int32_t s = check_attention(fn, stream, p, true, q, q_offset, cache_k, cache_k_offset, cache_v, cache_v_offset, positions,
                                positions_offset, out, out_offset);
    if (s != SPECULA_OK) return s;
    attn_args a = args_of(p);
    const float *qp = specula_at<const float>(q, q_offset);
    const __half *kp = specula_at<const __half>(cache_k, cache_k_offset), *vp = specula_at<const __half>(cache_v, cache_v_offset);
    const int32_t *pos = specula_at<const int32_t>(positions, positions_offset);
    float *op = specula_at<float>(out, out_offset);
    unsigned int *errors = specula_cuda_error_word(stream->device);
    if (p->n_tokens > SPECULA_FA_DECODE_MAX_TOKENS) {
        dim3 grid(specula_ceil_div((uint64_t)p->n_tokens, BQ), (unsigned int)p->n_heads);
        switch (p->head_dim) {
            case 64: flash_prefill<64><<<grid, FA_THREADS, 0, stream->stream>>>(a, qp, kp, vp, pos, op, errors); break;
            case 80: flash_prefill<80><<<grid, FA_THREADS, 0, stream->stream>>>(a, qp, kp, vp, pos, op, errors); break;
            case 96: flash_prefill<96><<<grid, FA_THREADS, 0, stream->stream>>>(a, qp, kp, vp, pos, op, errors); break;
            default: flash_prefill<128><<<grid, FA_THREADS, 0, stream->stream>>>(a, qp, kp, vp, pos, op, errors); break;
        }
        return specula_cuda_launched(fn);
    }
    // Split-K decode: the key ranges are fixed by ctx_size, not by the positions (which only the
    // device knows), so a recorded step replays at any position; ranges past a position are empty.
    int splits = (int)specula_ceil_div((uint64_t)p->ctx_size, SPECULA_FA_MIN_KEYS_PER_SPLIT);
    if (splits > SPECULA_FA_MAX_SPLITS) splits = SPECULA_FA_MAX_SPLITS;
    a.n_splits = splits;
    a.keys_per_split = (int)specula_ceil_div((uint64_t)p->ctx_size, (uint64_t)splits);
    void *partials = nullptr;
    s = specula_cuda_stream_scratch(stream, (uint64_t)p->n_tokens * p->n_heads * splits * (p->head_dim + 2) * 4, &partials);
    if (s != SPECULA_OK) return s;
    flash_decode<<<dim3((unsigned int)splits, (unsigned int)p->n_heads, (unsigned int)p->n_tokens), DEC_THREADS, 0, stream->stream>>>(
        a, qp, kp, vp, pos, static_cast<float *>(partials), errors);
    s = specula_cuda_launched(fn);
    if (s != SPECULA_OK) return s;
    flash_merge<<<dim3((unsigned int)p->n_heads, (unsigned int)p->n_tokens), DEC_THREADS, 0, stream->stream>>>(
        a, static_cast<const float *>(partials), op);
    return specula_cuda_launched(fn);
}

extern "C" uint64_t specula_attention_plain_scratch(const specula_attention_params *p) {
    if (p == nullptr || p->n_tokens < 1 || p->n_heads < 1 || p->ctx_size < 1) return 0;
    return (uint64_t)p->n_tokens * p->n_heads * p->ctx_size * 4;
}

extern "C" int32_t specula_attention_plain(specula_stream *stream, const specula_attention_params *p, const specula_buffer *q,
                                           uint64_t q_offset, const specula_buffer *cache_k, uint64_t cache_k_offset,
                                           const specula_buffer *cache_v, uint64_t cache_v_offset,
                                           const specula_buffer *positions, uint64_t positions_offset, specula_buffer *scratch,
                                           uint64_t scratch_offset, specula_buffer *out, uint64_t out_offset) {
    const char *fn = "specula_attention_plain";
    int32_t s = check_attention(fn, stream, p, false, q, q_offset, cache_k, cache_k_offset, cache_v, cache_v_offset, positions,
                                positions_offset, out, out_offset);
    if (s != SPECULA_OK) return s;
    SPECULA_NEED(fn, stream, scratch, scratch_offset, specula_attention_plain_scratch(p), 4, "scratch");
    if ((int64_t)p->n_tokens * p->n_heads > INT32_MAX) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: too many rows", fn);
    attn_args a = args_of(p);
    const int32_t *pos = specula_at<const int32_t>(positions, positions_offset);
    float *scores = specula_at<float>(scratch, scratch_offset);
    attn_scores<<<dim3(specula_ceil_div((uint64_t)p->ctx_size, 256), (unsigned int)p->n_heads, (unsigned int)p->n_tokens), 256, 0,
                  stream->stream>>>(a, specula_at<const float>(q, q_offset), specula_at<const __half>(cache_k, cache_k_offset), pos,
                                    scores, specula_cuda_error_word(stream->device));
    s = specula_cuda_launched(fn);
    if (s != SPECULA_OK) return s;
    s = specula_cuda_softmax_rows(stream, scores, p->n_tokens * p->n_heads, p->ctx_size, 1.0f);
    if (s != SPECULA_OK) return s;
    attn_output<<<dim3(specula_ceil_div((uint64_t)p->head_dim, 128), (unsigned int)p->n_heads, (unsigned int)p->n_tokens), 128, 0,
                  stream->stream>>>(a, scores, specula_at<const __half>(cache_v, cache_v_offset), pos, specula_at<float>(out, out_offset));
    return specula_cuda_launched(fn);
}
