/* What each kernel entry point of specula.h dispatches on Metal, as plain data: the kernel's name,
 * its grid, the buffers it binds and its argument struct. Plain C with no Metal in it, so the
 * argument checks and the launch shapes are compiled and tested on every platform
 * (tests/native/test_metal_plan.c); metal_runtime.m encodes a plan, or records it into a graph. */
#ifndef SPECULA_METAL_PLAN_H
#define SPECULA_METAL_PLAN_H

#include "specula.h"
#include "../kernels/specula_metal_args.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer: a retained id<MTLBuffer> (CFBridgingRetain), its size and, for registered host
 * memory, the host address it aliases. Defined here so the plans can check ranges. */
struct specula_buffer {
    int32_t device;
    void *mtl;
    void *host;
    uint64_t bytes;
};

enum {
    SPECULA_METAL_MAX_BINDINGS = 6,      /* slots 1..6 */
    SPECULA_METAL_MAX_ARGS_BYTES = 64,
    SPECULA_METAL_MAX_STEPS = 3
};

typedef enum specula_metal_step_kind {
    SPECULA_METAL_DISPATCH = 0,   /* a compute kernel */
    SPECULA_METAL_BLIT_COPY = 1,  /* bindings[0] -> bindings[1], blit_bytes */
    SPECULA_METAL_BLIT_FILL = 2   /* bindings[0], blit_bytes, fill_value */
} specula_metal_step_kind;

typedef struct specula_metal_binding {
    const specula_buffer *buffer; /* NULL with scratch = 1: the stream's scratch buffer */
    uint64_t offset;
    int32_t scratch;
} specula_metal_binding;

typedef struct specula_metal_step {
    int32_t kind;
    const char *kernel;       /* function name in the metallib */
    uint32_t groups[3];       /* threadgroups per grid */
    uint32_t threads[3];      /* threads per threadgroup */
    int32_t n_bindings;       /* bound at slots 1 .. n_bindings */
    specula_metal_binding bindings[SPECULA_METAL_MAX_BINDINGS];
    int32_t uses_errors;      /* the device's error word at SPECULA_METAL_ERRORS_SLOT */
    uint32_t args_bytes;      /* argument struct at slot 0 */
    unsigned char args[SPECULA_METAL_MAX_ARGS_BYTES];
    uint64_t blit_bytes;
    uint32_t fill_value;
} specula_metal_step;

typedef struct specula_metal_plan {
    int32_t n_steps;
    specula_metal_step steps[SPECULA_METAL_MAX_STEPS];
    uint64_t scratch_bytes;   /* the stream's scratch must hold this many bytes */
} specula_metal_plan;

/* The name of the kernel family member for a GGML type ("gemv" + Q4_0 -> "gemv_q4_0"), or NULL. */
const char *specula_metal_kernel_name(const char *family, int32_t type);

/* Every kernel name any plan can use, NULL-terminated (the test checks each is in the sources). */
extern const char *const specula_metal_kernel_names[];

/* Bytes of one row of `cols` weights of `type`, or 0 when the type is not supported or cols is not
 * a whole number of its blocks. */
uint64_t specula_metal_row_bytes(int32_t type, int64_t cols);

/* One function per kernel entry point of specula.h, with its arguments less the stream; each
 * checks them as the CUDA backend does (status and specula_last_error) and fills *plan. */
int32_t specula_metal_plan_gemv(specula_metal_plan *plan, int32_t type, const specula_buffer *w, uint64_t w_offset,
                                int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n,
                                specula_buffer *y, uint64_t y_offset);
int32_t specula_metal_plan_gemm(specula_metal_plan *plan, int32_t type, const specula_buffer *w, uint64_t w_offset,
                                int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n,
                                specula_buffer *y, uint64_t y_offset);
int32_t specula_metal_plan_rms_norm(specula_metal_plan *plan, const specula_buffer *x, uint64_t x_offset,
                                    const specula_buffer *weight, uint64_t weight_offset, specula_buffer *y,
                                    uint64_t y_offset, int32_t n_rows, int32_t dim, float eps);
int32_t specula_metal_plan_add(specula_metal_plan *plan, const specula_buffer *a, uint64_t a_offset,
                               const specula_buffer *b, uint64_t b_offset, specula_buffer *y, uint64_t y_offset,
                               int64_t n);
int32_t specula_metal_plan_swiglu(specula_metal_plan *plan, const specula_buffer *gate, uint64_t gate_offset,
                                  const specula_buffer *up, uint64_t up_offset, specula_buffer *y, uint64_t y_offset,
                                  int64_t n);
int32_t specula_metal_plan_softmax(specula_metal_plan *plan, specula_buffer *x, uint64_t x_offset, int32_t n_rows,
                                   int32_t n_cols, float scale);
int32_t specula_metal_plan_embedding(specula_metal_plan *plan, int32_t type, const specula_buffer *table,
                                     uint64_t table_offset, int64_t rows, int32_t dim, const specula_buffer *ids,
                                     uint64_t ids_offset, int32_t n, specula_buffer *y, uint64_t y_offset);
int32_t specula_metal_plan_rope(specula_metal_plan *plan, const specula_rope_params *params, specula_buffer *x,
                                uint64_t x_offset, const specula_buffer *positions, uint64_t positions_offset,
                                const specula_buffer *freq_factors, uint64_t freq_factors_offset);
int32_t specula_metal_plan_kv_store(specula_metal_plan *plan, const specula_buffer *k, uint64_t k_offset,
                                    const specula_buffer *v, uint64_t v_offset, int32_t n_tokens, int32_t kv_dim,
                                    specula_buffer *cache_k, uint64_t cache_k_offset, specula_buffer *cache_v,
                                    uint64_t cache_v_offset, int32_t ctx_size, const specula_buffer *positions,
                                    uint64_t positions_offset);
int32_t specula_metal_plan_flash_attention(specula_metal_plan *plan, const specula_attention_params *params,
                                           const specula_buffer *q, uint64_t q_offset, const specula_buffer *cache_k,
                                           uint64_t cache_k_offset, const specula_buffer *cache_v,
                                           uint64_t cache_v_offset, const specula_buffer *positions,
                                           uint64_t positions_offset, specula_buffer *out, uint64_t out_offset);
uint64_t specula_metal_plain_scratch(const specula_attention_params *params);
int32_t specula_metal_plan_attention_plain(specula_metal_plan *plan, const specula_attention_params *params,
                                           const specula_buffer *q, uint64_t q_offset, const specula_buffer *cache_k,
                                           uint64_t cache_k_offset, const specula_buffer *cache_v,
                                           uint64_t cache_v_offset, const specula_buffer *positions,
                                           uint64_t positions_offset, specula_buffer *scratch, uint64_t scratch_offset,
                                           specula_buffer *out, uint64_t out_offset);
int32_t specula_metal_plan_copy(specula_metal_plan *plan, specula_buffer *dst, uint64_t dst_offset,
                                const specula_buffer *src, uint64_t src_offset, uint64_t bytes);
int32_t specula_metal_plan_fill(specula_metal_plan *plan, specula_buffer *buffer, uint64_t offset, uint64_t bytes,
                                int32_t value);

/* An upload's or download's arguments: the buffer and host pointer are set and [offset, offset +
 * bytes) lies in the buffer (status and specula_last_error as the plans). */
int32_t specula_metal_check_host_range(const specula_buffer *b, uint64_t offset, uint64_t bytes, const void *host);

/* Runs the plan on the stream, or records it into the graph the stream is recording: the backend's
 * part (metal_runtime.m on Apple, metal/emu on the CPU). metal_abi.c's entry points call it. */
int32_t specula_metal_submit(specula_stream *stream, const specula_metal_plan *plan);

#ifdef __cplusplus
}
#endif

#endif
