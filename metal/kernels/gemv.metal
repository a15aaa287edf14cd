// Decode GEMV: y[i][r] = sum_c W[r][c] x[i][c] for i < n <= 8. One simdgroup per weight row
// (CUDA: one warp), SPECULA_GEMV_ROWS_PER_GROUP rows per threadgroup; lane l takes the row's
// 32-weight units l, l + 32, ..., dequantises each in registers and serves all n activation rows
// from it, so the weights are read once. Mirrors cuda/src/gemv.cu.
#include <metal_stdlib>
#include "quants.h"
#include "specula_metal_args.h"
using namespace metal;

template <typename F>
kernel void gemv(constant specula_matmul_args &a [[buffer(0)]],
                 device const uchar *w [[buffer(1)]],
                 device const float *x [[buffer(2)]],
                 device float *y [[buffer(3)]],
                 uint group [[threadgroup_position_in_grid]],
                 ushort sg [[simdgroup_index_in_threadgroup]],
                 ushort lane [[thread_index_in_simdgroup]]) {
    const int r = int(group) * SPECULA_GEMV_ROWS_PER_GROUP + sg;
    if (r >= a.rows) return;
    device const uchar *row = w + (ulong)r * (ulong)a.row_bytes;
    const int units = a.cols / SPECULA_UNIT;
    float acc[SPECULA_GEMV_MAX_N];
    for (int i = 0; i < SPECULA_GEMV_MAX_N; i++) acc[i] = 0.0f;
    float wu[SPECULA_UNIT];
    for (int u = lane; u < units; u += 32) {
        F::unit(row, u, wu);
        for (int i = 0; i < a.n; i++) {
            device const float4 *xv = (device const float4 *)(x + (ulong)i * (ulong)a.cols + u * SPECULA_UNIT);
            float s = 0.0f;
            for (int k = 0; k < SPECULA_UNIT / 4; k++) {
                const float4 v = xv[k];
                s += wu[4 * k] * v.x + wu[4 * k + 1] * v.y + wu[4 * k + 2] * v.z + wu[4 * k + 3] * v.w;
            }
            acc[i] += s;
        }
    }
    for (int i = 0; i < a.n; i++) {
        const float s = simd_sum(acc[i]);
        if (lane == 0) y[(ulong)i * (ulong)a.rows + r] = s;
    }
}

#define SPECULA_GEMV(name, F)                                                                         \
    template SPECULA_HOST_NAME(name) kernel void gemv<F>(constant specula_matmul_args &, device const uchar *, \
                                                         device const float *, device float *, uint, ushort, ushort)
SPECULA_GEMV("gemv_f32", format_f32);
SPECULA_GEMV("gemv_f16", format_f16);
SPECULA_GEMV("gemv_bf16", format_bf16);
SPECULA_GEMV("gemv_q4_0", format_q4_0);
SPECULA_GEMV("gemv_q8_0", format_q8_0);
SPECULA_GEMV("gemv_q4_k", format_q4_k);
SPECULA_GEMV("gemv_q5_k", format_q5_k);
SPECULA_GEMV("gemv_q6_k", format_q6_k);
