// The warp-per-row dot product that decode GEMV (gemv.cu) and the expert GEMV (moe.cu) share: a
// lane dequantises a row's 32-weight unit into registers and multiplies it by 32 activations, and
// the warp sums its lanes. Device code only (quants.cuh holds the host-and-device decoding).
#ifndef SPECULA_ROW_DOT_CUH
#define SPECULA_ROW_DOT_CUH

#include "quants.cuh"

namespace specula {

// Weights [32u, 32u + 32) of a row, dequantised.
template <typename F>
__device__ __forceinline__ void unit_weights(const uint8_t *row, int u, float wv[SPECULA_UNIT]) {
    F::part(row, u, 0, wv);
    F::part(row, u, 1, wv + 16);
}

// sum_k wv[k] x[k] over one unit; x 16-byte aligned (the matmul checks guarantee it).
__device__ __forceinline__ float unit_dot(const float wv[SPECULA_UNIT], const float *x) {
    const float4 *xv = reinterpret_cast<const float4 *>(x);
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < SPECULA_UNIT / 4; k++) {
        const float4 v = xv[k];
        s += wv[4 * k] * v.x + wv[4 * k + 1] * v.y + wv[4 * k + 2] * v.z + wv[4 * k + 3] * v.w;
    }
    return s;
}

// The sum over the warp's 32 lanes, in every lane.
__device__ __forceinline__ float warp_row_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

}  // namespace specula

#endif
