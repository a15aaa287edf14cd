// cuda-emu's stand-in for the toolkit's mma.h (WMMA). A fragment's element layout across lanes is
// unspecified in CUDA, so each emulated lane holds the whole tile: loads, the product and stores
// are computed by every lane alike (F16 products accumulated in F32, in k order per element). Loads and stores
// are warp-collective as on the GPU, where one instruction moves the whole warp's tile: the warp
// meets before and after each, so no lane runs ahead of the others' part of it.
#ifndef SPECULA_CUDA_EMU_MMA_H
#define SPECULA_CUDA_EMU_MMA_H

#include "cuda_emu.h"
#include "cuda_fp16.h"

namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
template <typename Use, int M, int N, int K>
struct shape;
template <int M, int N, int K>
struct shape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K>
struct shape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K>
struct shape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };
}  // namespace detail

// F16 elements are held widened to F32 (exactly), so the product runs on plain floats.
template <typename T>
using element_t = typename std::conditional<std::is_same<T, __half>::value, float, T>::type;

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
    static constexpr int rows = detail::shape<Use, M, N, K>::rows, cols = detail::shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    element_t<T> x[rows * cols];  // row-major tile, the whole of it in every lane
};

template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout> &f, T v) {
    for (int i = 0; i < f.num_elements; i++) f.x[i] = v;
}
template <typename Use, int M, int N, int K, typename Layout>
inline void fill_fragment(fragment<Use, M, N, K, __half, Layout> &f, __half v) {
    for (int i = 0; i < f.num_elements; i++) f.x[i] = __half2float(v);
}

namespace detail {
// Element (r, c) of a tile at p with leading dimension ldm, stored row- or column-major.
template <typename D, typename T>
inline void load(D *dst, const T *p, unsigned int ldm, int rows, int cols, bool col) {
    ::emu::sync_warp(0xffffffffu);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[r * cols + c] = (D)(col ? p[(size_t)c * ldm + r] : p[(size_t)r * ldm + c]);
    ::emu::sync_warp(0xffffffffu);
}
}  // namespace detail

template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, row_major> &f, const T *p, unsigned int ldm) {
    detail::load(f.x, p, ldm, f.rows, f.cols, false);
}
template <typename Use, int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<Use, M, N, K, T, col_major> &f, const T *p, unsigned int ldm) {
    detail::load(f.x, p, ldm, f.rows, f.cols, true);
}
template <int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T, void> &f, const T *p, unsigned int ldm, layout_t layout) {
    detail::load(f.x, p, ldm, f.rows, f.cols, layout == mem_col_major);
}

template <int M, int N, int K, typename T>
inline void store_matrix_sync(T *p, const fragment<accumulator, M, N, K, T, void> &f, unsigned int ldm, layout_t layout) {
    ::emu::sync_warp(0xffffffffu);
    for (int r = 0; r < f.rows; r++)
        for (int c = 0; c < f.cols; c++) {
            if (layout == mem_col_major) {
                p[(size_t)c * ldm + r] = f.x[r * f.cols + c];
            } else {
                p[(size_t)r * ldm + c] = f.x[r * f.cols + c];
            }
        }
    ::emu::sync_warp(0xffffffffu);
}

// D = A B + C, A M x K, B K x N, C and D M x N.
template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename TC>
inline void mma_sync(fragment<accumulator, M, N, K, TC, void> &d, const fragment<matrix_a, M, N, K, TA, LA> &a,
                     const fragment<matrix_b, M, N, K, TB, LB> &b, const fragment<accumulator, M, N, K, TC, void> &c) {
    float out[M * N];
    for (int i = 0; i < M * N; i++) out[i] = (float)c.x[i];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            const float aik = (float)a.x[i * K + k];
            for (int j = 0; j < N; j++) out[i * N + j] += aik * (float)b.x[k * N + j];
        }
    for (int i = 0; i < M * N; i++) d.x[i] = (element_t<TC>)out[i];
}

}  // namespace wmma
}  // namespace nvcuda

#endif
