/*
 * specula.h — the one C ABI of Specula's native backends.
 *
 * Plain C, ready for jextract: opaque handles, fixed-width integers, status codes with
 * specula_last_error(), no macros that hide types, no varargs, no bit-fields, structs by pointer.
 * Every function returns a specula_status (0 = SPECULA_OK) unless it says otherwise; on failure
 * specula_last_error() holds a one-line message. This version holds versioning and errors (every
 * backend), devices, buffers, streams and events, and the kernels: quantised matrix products,
 * attention, the fused small ops, mixture-of-experts routing and expert products (2.1), and
 * recorded decode steps (graphs).
 */
#ifndef SPECULA_H
#define SPECULA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes: major * 10000 + minor * 100 + patch. */
enum { SPECULA_ABI_VERSION = 201 };

typedef enum specula_status {
    SPECULA_OK = 0,
    SPECULA_ERROR_INVALID_ARGUMENT = 1,
    SPECULA_ERROR_OUT_OF_MEMORY = 2,
    SPECULA_ERROR_NO_DEVICE = 3,
    SPECULA_ERROR_UNSUPPORTED = 4,
    SPECULA_ERROR_BACKEND = 5
} specula_status;

/* The ABI version the loaded library implements; callers compare it with SPECULA_ABI_VERSION. */
int32_t specula_abi_version(void);

/* The message of the last failed call on this thread, or "" when none failed. Never NULL.
 * Valid until the next failing call on the same thread. */
const char *specula_last_error(void);

/* A short constant name for a status code ("SPECULA_OK", ...). Never NULL. */
const char *specula_status_name(int32_t status);

/* ---- Devices ---------------------------------------------------------------------------- */

typedef struct specula_device_info {
    char name[256];              /* NUL-terminated */
    uint64_t total_memory;       /* bytes */
    uint64_t free_memory;        /* bytes, when asked */
    int32_t compute_major;       /* compute capability, e.g. 9 and 0 for sm_90 */
    int32_t compute_minor;
    int32_t integrated;          /* 1: shares DRAM with the CPU (Jetson); 0: discrete */
    int32_t multiprocessors;
    int32_t can_map_host_memory; /* 1: host memory can be registered for zero-copy access */
    int32_t reserved;
} specula_device_info;

/* The number of devices this backend can use; 0 (and SPECULA_OK) when there is no device or no
 * driver, with the reason in specula_last_error(). */
int32_t specula_device_count(int32_t *count);

/* Fills *info for device index `device` (0 .. count-1). */
int32_t specula_device_get_info(int32_t device, specula_device_info *info);

/* ---- Streams ---------------------------------------------------------------------------- */

typedef struct specula_stream specula_stream;

int32_t specula_stream_create(int32_t device, specula_stream **stream);

/* Waits until everything queued on the stream has run. */
int32_t specula_stream_synchronize(specula_stream *stream);

int32_t specula_stream_destroy(specula_stream *stream);

/* ---- Buffers ---------------------------------------------------------------------------- */

typedef struct specula_buffer specula_buffer;

/* Device memory of `bytes` bytes on `device`. */
int32_t specula_buffer_alloc(int32_t device, uint64_t bytes, specula_buffer **buffer);

/* Registers host memory [host, host + bytes) for direct device access without a copy (page-locked
 * and mapped); the buffer aliases it. For weights on integrated GPUs, where memory is shared.
 * Metal needs `host` on a page boundary and wraps whole pages (the length is rounded up, so the
 * rest of the last page must be mapped, as it is for an mmap'ed file). */
int32_t specula_buffer_register_host(int32_t device, void *host, uint64_t bytes, specula_buffer **buffer);

/* Frees device memory, or unregisters registered host memory (which stays the caller's). */
int32_t specula_buffer_free(specula_buffer *buffer);

/* The buffer's size in bytes (0 for NULL). */
uint64_t specula_buffer_size(const specula_buffer *buffer);

/* Copies bytes host -> buffer at `offset`, queued on `stream` (NULL: synchronous). The host
 * memory must stay valid until the stream is synchronised. */
int32_t specula_buffer_upload(specula_buffer *buffer, uint64_t offset, const void *host, uint64_t bytes,
                              specula_stream *stream);

/* Copies bytes buffer at `offset` -> host, queued on `stream` (NULL: synchronous). */
int32_t specula_buffer_download(const specula_buffer *buffer, uint64_t offset, void *host, uint64_t bytes,
                                specula_stream *stream);

/* Copies bytes src at src_offset -> dst at dst_offset on the device, queued on `stream`. */
int32_t specula_buffer_copy(specula_buffer *dst, uint64_t dst_offset, const specula_buffer *src, uint64_t src_offset,
                            uint64_t bytes, specula_stream *stream);

/* Sets bytes of the buffer from `offset` to the byte `value`, queued on `stream`. */
int32_t specula_buffer_fill(specula_buffer *buffer, uint64_t offset, uint64_t bytes, int32_t value, specula_stream *stream);

/* ---- Events (timing) -------------------------------------------------------------------- */

typedef struct specula_event specula_event;

int32_t specula_event_create(int32_t device, specula_event **event);

/* Marks the point the stream has reached; specula_event_elapsed measures between two marks. */
int32_t specula_event_record(specula_event *event, specula_stream *stream);

/* Milliseconds between two recorded events (waits for `end`). */
int32_t specula_event_elapsed(const specula_event *start, const specula_event *end, float *milliseconds);

int32_t specula_event_destroy(specula_event *event);

/* ---- Kernels ----------------------------------------------------------------------------
 * Every kernel is queued on `stream` (never NULL) and returns at once: argument errors are
 * reported by the call, faults during execution at the next synchronisation. Data is addressed
 * as (buffer, byte offset). Activations are F32 and row-major. A weight matrix of `rows` x
 * `cols` of GGML type `type` is laid out as in a GGUF file: `rows` rows of `cols` elements, each
 * row a run of the type's blocks (cols must be a multiple of the type's block size). Where a
 * kernel reads token positions they come from device memory (int32), so that a recorded step
 * replays at the next position without being recorded again. */

/* GGML type ids, as in GGUF files. */
typedef enum specula_type {
    SPECULA_TYPE_F32 = 0,
    SPECULA_TYPE_F16 = 1,
    SPECULA_TYPE_Q4_0 = 2,
    SPECULA_TYPE_Q8_0 = 8,
    SPECULA_TYPE_Q4_K = 12,
    SPECULA_TYPE_Q5_K = 13,
    SPECULA_TYPE_Q6_K = 14,
    SPECULA_TYPE_BF16 = 30
} specula_type;

/* 1 when the matrix kernels take weights of this GGML type, else 0. */
int32_t specula_type_supported(int32_t type);

/* Decode GEMV: y[i][r] = sum_c W[r][c] * x[i][c] for i < n (1 <= n <= 8: one pass over the
 * weights serves all n rows), dequantising W in registers. x is n x cols, y is n x rows. */
int32_t specula_gemv(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int64_t rows,
                     int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n, specula_buffer *y,
                     uint64_t y_offset);

/* The same product for batches (prefill, speculative verification) on tensor cores: W is
 * dequantised to F16 tiles in shared memory, x is rounded to F16, accumulation is F32. */
int32_t specula_gemm(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset, int64_t rows,
                     int64_t cols, const specula_buffer *x, uint64_t x_offset, int32_t n, specula_buffer *y,
                     uint64_t y_offset);

/* y = x / sqrt(mean(x^2) + eps) * weight, per row of `dim` (weight F32; y may be x). */
int32_t specula_rms_norm(specula_stream *stream, const specula_buffer *x, uint64_t x_offset, const specula_buffer *weight,
                         uint64_t weight_offset, specula_buffer *y, uint64_t y_offset, int32_t n_rows, int32_t dim,
                         float eps);

/* y = a + b over n floats (y may be a or b): the residual add. */
int32_t specula_add(specula_stream *stream, const specula_buffer *a, uint64_t a_offset, const specula_buffer *b,
                    uint64_t b_offset, specula_buffer *y, uint64_t y_offset, int64_t n);

/* y = silu(gate) * up over n floats (y may be gate or up). */
int32_t specula_swiglu(specula_stream *stream, const specula_buffer *gate, uint64_t gate_offset, const specula_buffer *up,
                       uint64_t up_offset, specula_buffer *y, uint64_t y_offset, int64_t n);

/* In-place softmax of each of n_rows rows of n_cols floats, after multiplying by `scale`. */
int32_t specula_softmax(specula_stream *stream, specula_buffer *x, uint64_t x_offset, int32_t n_rows, int32_t n_cols,
                        float scale);

/* y[i] = row ids[i] of the table (rows x dim of `type`), dequantised to F32; ids are int32 in
 * device memory, checked against the row count (a bad id yields a zero row and a sticky error
 * reported by specula_kernel_errors). */
int32_t specula_embedding(specula_stream *stream, int32_t type, const specula_buffer *table, uint64_t table_offset,
                          int64_t rows, int32_t dim, const specula_buffer *ids, uint64_t ids_offset, int32_t n,
                          specula_buffer *y, uint64_t y_offset);

/* RoPE modes: NORM rotates adjacent pairs (x[2i], x[2i+1]) (llama); NEOX rotates (x[i], x[i+d/2]) (qwen). */
typedef enum specula_rope_mode {
    SPECULA_ROPE_NORM = 0,
    SPECULA_ROPE_NEOX = 2
} specula_rope_mode;

typedef struct specula_rope_params {
    int32_t n_tokens;
    int32_t n_heads;
    int32_t head_dim;
    int32_t rope_dim;       /* rotated dimensions (<= head_dim); the rest pass through */
    int32_t mode;           /* specula_rope_mode */
    float freq_base;
    float freq_scale;       /* linear scaling: position * freq_scale */
    float ext_factor;       /* YaRN: 0 = off */
    float attn_factor;      /* YaRN magnitude scale (1 when off) */
    float beta_fast;
    float beta_slow;
    int32_t n_ctx_orig;     /* YaRN's original context */
} specula_rope_params;

/* Rotates x (n_tokens x n_heads x head_dim, in place) at positions[i] (int32, device memory);
 * freq_factors (rope_dim / 2 floats, or NULL) divide each frequency as GGUF's rope_freqs does. */
int32_t specula_rope(specula_stream *stream, const specula_rope_params *params, specula_buffer *x, uint64_t x_offset,
                     const specula_buffer *positions, uint64_t positions_offset, const specula_buffer *freq_factors,
                     uint64_t freq_factors_offset);

/* Stores n_tokens rows of k and v (F32, kv_dim each) into the F16 caches (ctx_size x kv_dim)
 * at rows positions[i] (int32, device memory; a position outside the cache is a sticky error). */
int32_t specula_kv_store(specula_stream *stream, const specula_buffer *k, uint64_t k_offset, const specula_buffer *v,
                         uint64_t v_offset, int32_t n_tokens, int32_t kv_dim, specula_buffer *cache_k,
                         uint64_t cache_k_offset, specula_buffer *cache_v, uint64_t cache_v_offset, int32_t ctx_size,
                         const specula_buffer *positions, uint64_t positions_offset);

typedef struct specula_attention_params {
    int32_t n_tokens;       /* query rows */
    int32_t n_heads;        /* query heads */
    int32_t n_kv_heads;     /* divides n_heads (GQA) */
    int32_t head_dim;       /* 64, 80, 96 or 128 for flash attention; any for plain */
    int32_t ctx_size;       /* rows of the caches */
    float scale;            /* usually 1 / sqrt(head_dim) */
} specula_attention_params;

/* Causal attention of queries q (n_tokens x n_heads x head_dim, F32) against the F16 caches
 * (ctx_size x n_kv_heads x head_dim): query i sees cache rows 0 .. positions[i] (int32, device
 * memory). out is n_tokens x n_heads x head_dim, F32. Tiled, with online softmax; for a few
 * query rows over a long context it splits the keys across blocks (split-K) and merges. */
int32_t specula_flash_attention(specula_stream *stream, const specula_attention_params *params, const specula_buffer *q,
                                uint64_t q_offset, const specula_buffer *cache_k, uint64_t cache_k_offset,
                                const specula_buffer *cache_v, uint64_t cache_v_offset, const specula_buffer *positions,
                                uint64_t positions_offset, specula_buffer *out, uint64_t out_offset);

/* The bytes of scratch specula_attention_plain needs for these parameters. */
uint64_t specula_attention_plain_scratch(const specula_attention_params *params);

/* The same attention computed plainly for comparison (no -fa): the score matrix is written to
 * `scratch` (specula_attention_plain_scratch bytes), soft-maxed, then multiplied by V. */
int32_t specula_attention_plain(specula_stream *stream, const specula_attention_params *params, const specula_buffer *q,
                                uint64_t q_offset, const specula_buffer *cache_k, uint64_t cache_k_offset,
                                const specula_buffer *cache_v, uint64_t cache_v_offset, const specula_buffer *positions,
                                uint64_t positions_offset, specula_buffer *scratch, uint64_t scratch_offset,
                                specula_buffer *out, uint64_t out_offset);

/* Sticky errors raised inside kernels since the last call (an embedding id out of range, a
 * position outside the cache), as a bit set; 0 when none. Synchronises the device and clears. */
int32_t specula_kernel_errors(int32_t device, int32_t *errors);

/* ---- Mixture of experts (ABI 2.1) -------------------------------------------------------
 * Routing runs on the device and the expert ids stay there, so a decode step of a MoE model is
 * still one recorded graph (no host round trip to learn which experts to read). */

typedef struct specula_moe_route_params {
    int32_t n_tokens;
    int32_t n_experts;      /* 1 .. 1024 */
    int32_t k;              /* experts used per token, 1 .. min(n_experts, 64) */
    int32_t normalize;      /* 1: the k weights are divided by their sum (clamped below at 2^-14) */
} specula_moe_route_params;

/* Routes each token from its router logits (n_tokens x n_experts, F32): a softmax over all
 * experts, the k most probable (most probable first, ties to the lower id), their probabilities
 * as weights, renormalised when params->normalize. Writes ids (n_tokens x k, int32) and weights
 * (n_tokens x k, F32). NaN logits are a sticky kernel error (bit 4; ids then 0). */
int32_t specula_moe_route(specula_stream *stream, const specula_moe_route_params *params, const specula_buffer *logits,
                          uint64_t logits_offset, specula_buffer *ids, uint64_t ids_offset, specula_buffer *weights,
                          uint64_t weights_offset);

/* Expert GEMV: for each token t < n_tokens and slot s < k, y[t][s] (rows floats) = W[e] x,
 * e = ids[t][s] (int32, device memory), W the 3-D expert tensor: n_experts matrices of rows x
 * cols of GGML type `type`, one after another as in a GGUF file. x is x[t] (n_tokens x cols)
 * when x_per_slot is 0 (gate, up: every slot reads its token's row), x[t][s] (n_tokens x k x
 * cols) when 1 (down). y is n_tokens x k x rows. Any n_tokens: a batch takes the same
 * per-(token, slot) path, each slot reading its expert's rows (correct; no grouping by expert).
 * An id outside [0, n_experts) yields a zero row and a sticky kernel error (bit 4). */
int32_t specula_gemv_experts(specula_stream *stream, int32_t type, const specula_buffer *w, uint64_t w_offset,
                             int32_t n_experts, int64_t rows, int64_t cols, const specula_buffer *x, uint64_t x_offset,
                             int32_t x_per_slot, const specula_buffer *ids, uint64_t ids_offset, int32_t n_tokens,
                             int32_t k, specula_buffer *y, uint64_t y_offset);

/* The experts' weighted sum: y[t][i] = sum over s in order of weights[t][s] * x[t][s][i] (x is
 * n_tokens x k x dim, weights n_tokens x k), then, when `shared` is not NULL, plus
 * sigmoid(shared_gate[t]) * shared[t][i] (qwen2moe's shared expert: shared is n_tokens x dim,
 * shared_gate n_tokens logits). y is n_tokens x dim and must not overlap x. */
int32_t specula_moe_combine(specula_stream *stream, const specula_buffer *x, uint64_t x_offset, const specula_buffer *weights,
                            uint64_t weights_offset, int32_t n_tokens, int32_t k, int32_t dim, const specula_buffer *shared,
                            uint64_t shared_offset, const specula_buffer *shared_gate, uint64_t shared_gate_offset,
                            specula_buffer *y, uint64_t y_offset);

/* ---- Graphs: a decode step recorded once, replayed per token ---------------------------- */

typedef struct specula_graph specula_graph;

/* Starts recording: kernels and copies queued on `stream` are captured, not run. */
int32_t specula_graph_begin(specula_stream *stream);

/* Ends recording on `stream` and returns the executable graph. */
int32_t specula_graph_end(specula_stream *stream, specula_graph **graph);

/* Runs the recorded work on `stream` (positions and lengths are re-read from device memory). */
int32_t specula_graph_launch(specula_graph *graph, specula_stream *stream);

int32_t specula_graph_destroy(specula_graph *graph);

#ifdef __cplusplus
}
#endif

#endif /* SPECULA_H */
