// GEMM for batches (prefill, speculative verification): y (n x rows) = x (n x cols) W^T on tensor
// cores. A block computes TILE_M weight rows x TILE_N tokens, stepping TILE_K = 32 columns (one
// 32-weight unit): its 128 threads dequantise the 64 x 32 W tile into F16 in shared memory (two
// threads per row, 16 weights each), round the 32 x 32 x tile to F16, and 4 warps multiply with
// F32 accumulation, each warp 32 rows x 16 tokens as two 16x16x16 WMMA products per 16 columns.
// nvcuda::wmma rather than hand-written mma.sync PTX: on sm_80+ the compiler lowers each 16x16x16
// half product to two mma.sync.m16n8k16 (the same tensor-core instruction) and owns the fragment
// layouts, which leaves nothing to get wrong untested; and the same code compiles for sm_75/sm_72
// (HMMA m16n8k8 there), so there is no pre-Ampere fallback path. Partial tiles (rows not a multiple
// of 64, n not a multiple of 32) are zero-filled on load and bounds-checked on store. The Metal
// twin is metal/kernels/gemm.metal. Plain weights (F32/F16/BF16) of any row length take the same
// kernel with element-wise, bounds-checked tile loads (EDGE).
#include "cuda_internal.cuh"
#include "quants.cuh"

#include <cuda_fp16.h>
#include <mma.h>

namespace {

using namespace nvcuda;

constexpr int TM = SPECULA_GEMM_TILE_M, TN = SPECULA_GEMM_TILE_N, TK = SPECULA_GEMM_TILE_K, WARPS = SPECULA_GEMM_SIMDGROUPS;
constexpr int THREADS = 32 * WARPS, LDS = TK + SPECULA_GEMM_PAD;  // halves per shared row (80 bytes)
static_assert(TK == SPECULA_UNIT, "one K step is one 32-weight unit");
static_assert(TM == 64 && TN == 32 && WARPS == 4, "the warp layout below assumes 64 x 32 tiles and 4 warps");
static_assert(LDS % 8 == 0 && (16 * LDS * 2) % 32 == 0, "WMMA wants 16-byte row strides and 32-byte aligned tiles");

// EDGE (plain formats only): rows of any length or alignment, loaded element by element with the
// columns past the end zero-filled; otherwise whole aligned 32-weight units.
template <typename F, bool EDGE>
__global__ void __launch_bounds__(THREADS)
gemm_kernel(const uint8_t *__restrict__ w, int rows, size_t row_bytes, const float *__restrict__ x, int cols, int n,
            float *__restrict__ y) {
    __shared__ __align__(32) __half ws[TM * LDS];  // W tile, [row][k]
    __shared__ __align__(32) __half xs[TN * LDS];  // x tile, [token][k]
    __shared__ __align__(32) float cs[TN * TM];    // result tile, [token][row]
    const int tid = threadIdx.x, warp = tid / 32;
    const int m0 = blockIdx.x * TM, n0 = blockIdx.y * TN;
    const int wm = (warp % 2) * 32, wn = (warp / 2) * 16;  // this warp's rows and tokens in the tile

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2];
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);

    const int w_row = tid / 2, w_half = tid % 2;           // W: 2 threads per row, 16 weights each
    const int x_tok = tid / 4, x_col = (tid % 4) * 8;      // x: 4 threads per token, 8 values each
    const bool w_in = m0 + w_row < rows, x_in = n0 + x_tok < n;
    const uint8_t *w_ptr = w + (size_t)(w_in ? m0 + w_row : 0) * row_bytes;
    const float *x_row = x + (size_t)(x_in ? n0 + x_tok : 0) * cols, *x_ptr = x_row + x_col;
    const int units = (cols + TK - 1) / TK;

    for (int u = 0; u < units; u++) {
        float v[16];
        if constexpr (EDGE) {
#pragma unroll
            for (int i = 0; i < 16; i++) {
                const int c = u * TK + 16 * w_half + i;
                v[i] = w_in && c < cols ? F::element(w_ptr, c) : 0.0f;
            }
        } else if (w_in) {
            F::part(w_ptr, u, w_half, v);
        } else {
#pragma unroll
            for (int i = 0; i < 16; i++) v[i] = 0.0f;
        }
        __half2 *wd = reinterpret_cast<__half2 *>(ws + w_row * LDS + 16 * w_half);
#pragma unroll
        for (int i = 0; i < 8; i++) wd[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);

        float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f), b = a;
        if constexpr (EDGE) {
            float e[8];
#pragma unroll
            for (int i = 0; i < 8; i++) {
                const int c = u * TK + x_col + i;
                e[i] = x_in && c < cols ? x_row[c] : 0.0f;
            }
            a = make_float4(e[0], e[1], e[2], e[3]);
            b = make_float4(e[4], e[5], e[6], e[7]);
        } else if (x_in) {
            const float4 *xv = reinterpret_cast<const float4 *>(x_ptr + (size_t)u * TK);
            a = xv[0];
            b = xv[1];
        }
        __half2 *xd = reinterpret_cast<__half2 *>(xs + x_tok * LDS + x_col);
        xd[0] = __floats2half2_rn(a.x, a.y);
        xd[1] = __floats2half2_rn(a.z, a.w);
        xd[2] = __floats2half2_rn(b.x, b.y);
        xd[3] = __floats2half2_rn(b.z, b.w);
        __syncthreads();

#pragma unroll
        for (int kk = 0; kk < TK; kk += 16) {
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> xb;  // B = x^T: (k, token)
            wmma::load_matrix_sync(xb, xs + wn * LDS + kk, LDS);
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> wa;
                wmma::load_matrix_sync(wa, ws + (wm + 16 * mi) * LDS + kk, LDS);
                wmma::mma_sync(acc[mi], wa, xb, acc[mi]);
            }
        }
        __syncthreads();
    }

    // (row, token) of a fragment goes to cs[token][row]: column-major with a stride of TM.
#pragma unroll
    for (int mi = 0; mi < 2; mi++) wmma::store_matrix_sync(cs + wn * TM + wm + 16 * mi, acc[mi], TM, wmma::mem_col_major);
    __syncthreads();
    for (int i = tid; i < TN * TM; i += THREADS) {
        const int t = i / TM, r = i % TM;
        if (n0 + t < n && m0 + r < rows) y[(size_t)(n0 + t) * rows + m0 + r] = cs[i];
    }
}

}  // namespace

extern "C" int32_t specula_gemm(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int64_t rows,
                                int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n, specula_buffer *y,
                                uint64_t y_offset) {
    const char *fn = "specula_gemm";
    uint64_t row_bytes = 0;
    bool edge = false;
    int32_t s = specula_cuda_matmul_check(fn, stream, type, w, w_offset, rows, cols, x, x_offset, n, 65535 * TN, y, y_offset,
                                          &row_bytes, &edge);
    if (s != SPECULA_OK) return s;
    const uint8_t *wp = specula_at<const uint8_t>(w, w_offset);
    const float *xp = specula_at<const float>(x, x_offset);
    float *yp = specula_at<float>(y, y_offset);
    dim3 grid(specula_ceil_div((uint64_t)rows, TM), specula_ceil_div((uint64_t)n, TN));
    if (edge) {
        SPECULA_WITH_PLAIN_FORMAT(type, F, gemm_kernel<F, true><<<grid, THREADS, 0, stream->stream>>>(wp, (int)rows, row_bytes, xp,
                                                                                                        (int)cols, n, yp));
    } else {
        SPECULA_WITH_FORMAT(type, F, gemm_kernel<F, false><<<grid, THREADS, 0, stream->stream>>>(wp, (int)rows, row_bytes, xp,
                                                                                                   (int)cols, n, yp));
    }
    return specula_cuda_launched(fn);
}
