/* Kernel arguments and tile shapes shared by the Metal kernels (kernels, the .metal files) and the host
 * code that plans their dispatches (src/metal_plan.c). Plain C structs of 4-byte fields, so C and
 * the Metal Shading Language lay them out alike; the host passes one as [[buffer(0)]] (setBytes).
 *
 * Buffer slots, every kernel: 0 = its argument struct, 1..6 = data buffers in the order the
 * kernel declares them, 7 = the device's sticky error word (kernels that can raise one).
 *
 * Tile shapes are the CUDA kernels' (the constant names say which CUDA constant each mirrors).
 */
#ifndef SPECULA_METAL_ARGS_H
#define SPECULA_METAL_ARGS_H

#ifndef __METAL_VERSION__
#include <stdint.h>
#endif

enum {
    SPECULA_METAL_ARGS_SLOT = 0,
    SPECULA_METAL_ERRORS_SLOT = 7,

    /* Sticky in-kernel errors (specula_kernel_errors bits). */
    SPECULA_KERNEL_ERROR_EMBEDDING_ID = 1,
    SPECULA_KERNEL_ERROR_KV_POSITION = 2,
    SPECULA_KERNEL_ERROR_EXPERT_ID = 4,

    /* GEMV: one simdgroup (CUDA: warp) per weight row, GEMV_ROWS_PER_GROUP rows per threadgroup
     * (block); each lane takes 32-weight units (a Q4_0/Q8_0 block, a K-quant sub-block) in turn. */
    SPECULA_GEMV_ROWS_PER_GROUP = 4,
    SPECULA_GEMV_MAX_N = 8,
    SPECULA_UNIT = 32,

    /* GEMM: a threadgroup computes TILE_M weight rows x TILE_N tokens, stepping TILE_K columns;
     * 4 simdgroups (warps), each 32 rows x 16 tokens as 4 x 2 8x8 matrices (CUDA: mma tiles). */
    SPECULA_GEMM_TILE_M = 64,
    SPECULA_GEMM_TILE_N = 32,
    SPECULA_GEMM_TILE_K = 32,
    SPECULA_GEMM_SIMDGROUPS = 4,
    SPECULA_GEMM_PAD = 8, /* halves added to each shared row against bank conflicts */

    /* FlashAttention prefill: FA_BLOCK_Q query rows of one head per threadgroup, keys in blocks of
     * FA_BLOCK_K; 4 simdgroups of 8 query rows each; head_dim up to FA_MAX_HEAD_DIM. */
    SPECULA_FA_BLOCK_Q = 32,
    SPECULA_FA_BLOCK_K = 32,
    SPECULA_FA_SIMDGROUPS = 4,
    SPECULA_FA_MAX_HEAD_DIM = 128,
    /* Decode (split-K): at most FA_DECODE_MAX_TOKENS query rows; the context is cut into up to
     * FA_MAX_SPLITS ranges of at least FA_MIN_KEYS_PER_SPLIT keys, merged by a second kernel. */
    SPECULA_FA_DECODE_MAX_TOKENS = 4,
    SPECULA_FA_MAX_SPLITS = 32,
    SPECULA_FA_MIN_KEYS_PER_SPLIT = 256,
    SPECULA_FA_DECODE_SIMDGROUPS = 4,

    /* Row reductions (RMSNorm, softmax, embedding rows): threads per threadgroup. */
    SPECULA_ROW_THREADS = 256,
    /* Element-wise ops: threads per threadgroup. */
    SPECULA_ELEMENT_THREADS = 256
};

/* GEMV and GEMM: y (n x rows) = x (n x cols) W^T. */
typedef struct specula_matmul_args {
    int32_t rows;
    int32_t cols;
    int32_t n;
    int32_t row_bytes; /* bytes of one weight row */
} specula_matmul_args;

typedef struct specula_rms_norm_args {
    int32_t n_rows;
    int32_t dim;
    float eps;
} specula_rms_norm_args;

/* add, swiglu, copy_bytes: n elements (below 2^31). */
typedef struct specula_elementwise_args {
    int32_t n;
} specula_elementwise_args;

typedef struct specula_softmax_args {
    int32_t n_rows;
    int32_t n_cols;
    float scale;
} specula_softmax_args;

typedef struct specula_embedding_args {
    int32_t rows;      /* rows of the table */
    int32_t dim;
    int32_t n;         /* ids */
    int32_t row_bytes;
} specula_embedding_args;

typedef struct specula_rope_args {
    int32_t n_tokens;
    int32_t n_heads;
    int32_t head_dim;
    int32_t rope_dim;
    int32_t mode;      /* 0 NORM, 2 NEOX */
    float freq_base;
    float freq_scale;
    float ext_factor;
    float attn_factor;
    float corr_low;    /* YaRN correction range, computed by the host as ggml does */
    float corr_high;
    int32_t has_freq_factors;
} specula_rope_args;

typedef struct specula_kv_store_args {
    int32_t n_tokens;
    int32_t kv_dim;
    int32_t ctx_size;
} specula_kv_store_args;

typedef struct specula_attention_args {
    int32_t n_tokens;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t ctx_size;
    float scale;
    int32_t n_splits;        /* decode: key ranges per (token, head) */
    int32_t keys_per_split;  /* decode: keys in each range */
} specula_attention_args;

#endif
