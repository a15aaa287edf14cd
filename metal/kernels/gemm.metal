// Batched product (prefill, speculative verification): y (n x rows) = x (n x cols) W^T on
// simdgroup matrices (CUDA: tensor-core mma). A threadgroup computes SPECULA_GEMM_TILE_M weight
// rows x SPECULA_GEMM_TILE_N tokens, stepping SPECULA_GEMM_TILE_K = 32 columns: each step its first
// 64 threads dequantise one 32-weight unit of one weight row each into F16 shared tiles and the
// other 64 round 16 activations each to F16; then each of the 4 simdgroups multiplies its
// 16 tokens x 32 rows (2 x 4 8x8 matrices) with F32 accumulation. Mirrors cuda/src/gemm.cu.
#include <metal_stdlib>
#include "quants.h"
#include "specula_metal_args.h"
using namespace metal;

constant constexpr int GEMM_LD = SPECULA_GEMM_TILE_K + SPECULA_GEMM_PAD;

// Threadgroup memory: the W and x tiles (F16) and the F32 output tile.
constant constexpr int GEMM_SHARED_BYTES = (SPECULA_GEMM_TILE_M + SPECULA_GEMM_TILE_N) * GEMM_LD * 2
                                           + SPECULA_GEMM_TILE_N * SPECULA_GEMM_TILE_M * 4;

template <typename F>
kernel void gemm(constant specula_matmul_args &a [[buffer(0)]],
                 device const uchar *w [[buffer(1)]],
                 device const float *x [[buffer(2)]],
                 device float *y [[buffer(3)]],
                 uint2 group [[threadgroup_position_in_grid]],
                 ushort tid [[thread_index_in_threadgroup]],
                 ushort sg [[simdgroup_index_in_threadgroup]]) {
    threadgroup float4 shared[GEMM_SHARED_BYTES / 16];  // float4: 16-byte aligned
    threadgroup half *ws = (threadgroup half *)shared;                        // TILE_M x LD
    threadgroup half *xs = ws + SPECULA_GEMM_TILE_M * GEMM_LD;                // TILE_N x LD
    threadgroup float *cs = (threadgroup float *)(xs + SPECULA_GEMM_TILE_N * GEMM_LD);  // TILE_N x TILE_M
    const int m0 = int(group.x) * SPECULA_GEMM_TILE_M, n0 = int(group.y) * SPECULA_GEMM_TILE_N;
    const int tb = (sg / 2) * 16, rb = (sg % 2) * 32;  // this simdgroup's tokens and rows in the tile

    simdgroup_float8x8 acc[2][4];
    for (int t = 0; t < 2; t++)
        for (int r = 0; r < 4; r++) acc[t][r] = make_filled_simdgroup_matrix<float, 8>(0.0f);

    const int units = a.cols / SPECULA_UNIT;
    float wu[SPECULA_UNIT];
    for (int u = 0; u < units; u++) {
        if (tid < SPECULA_GEMM_TILE_M) {
            const int r = m0 + tid;
            if (r < a.rows) F::unit(w + (ulong)r * (ulong)a.row_bytes, u, wu);
            else for (int i = 0; i < SPECULA_UNIT; i++) wu[i] = 0.0f;
            for (int i = 0; i < SPECULA_UNIT; i++) ws[tid * GEMM_LD + i] = half(wu[i]);
        } else {
            const int t = (tid - SPECULA_GEMM_TILE_M) / 2, c0 = ((tid - SPECULA_GEMM_TILE_M) % 2) * 16;
            device const float *xr = x + (ulong)(n0 + t) * (ulong)a.cols + u * SPECULA_UNIT + c0;
            for (int i = 0; i < 16; i++) xs[t * GEMM_LD + c0 + i] = n0 + t < a.n ? half(xr[i]) : half(0.0f);
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (int k = 0; k < SPECULA_GEMM_TILE_K; k += 8) {
            simdgroup_half8x8 xa[2], wb[4];
            for (int t = 0; t < 2; t++) simdgroup_load(xa[t], xs + (tb + 8 * t) * GEMM_LD + k, GEMM_LD);
            // W^T: the tile holds rows x columns; loading it transposed gives columns x rows.
            for (int r = 0; r < 4; r++) simdgroup_load(wb[r], ws + (rb + 8 * r) * GEMM_LD + k, GEMM_LD, ulong2(0), true);
            for (int t = 0; t < 2; t++)
                for (int r = 0; r < 4; r++) simdgroup_multiply_accumulate(acc[t][r], xa[t], wb[r], acc[t][r]);
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    for (int t = 0; t < 2; t++)
        for (int r = 0; r < 4; r++)
            simdgroup_store(acc[t][r], cs + (tb + 8 * t) * SPECULA_GEMM_TILE_M + rb + 8 * r, SPECULA_GEMM_TILE_M);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (int i = tid; i < SPECULA_GEMM_TILE_N * SPECULA_GEMM_TILE_M; i += SPECULA_GEMM_SIMDGROUPS * 32) {
        const int t = n0 + i / SPECULA_GEMM_TILE_M, r = m0 + i % SPECULA_GEMM_TILE_M;
        if (t < a.n && r < a.rows) y[(ulong)t * (ulong)a.rows + r] = cs[i];
    }
}

#define SPECULA_GEMM(name, F)                                                                         \
    template SPECULA_HOST_NAME(name) kernel void gemm<F>(constant specula_matmul_args &, device const uchar *, \
                                                         device const float *, device float *, uint2, ushort, ushort)
SPECULA_GEMM("gemm_f32", format_f32);
SPECULA_GEMM("gemm_f16", format_f16);
SPECULA_GEMM("gemm_bf16", format_bf16);
SPECULA_GEMM("gemm_q4_0", format_q4_0);
SPECULA_GEMM("gemm_q8_0", format_q8_0);
SPECULA_GEMM("gemm_q4_k", format_q4_k);
SPECULA_GEMM("gemm_q5_k", format_q5_k);
SPECULA_GEMM("gemm_q6_k", format_q6_k);
