// Entry points of specula.h not implemented yet: each answers SPECULA_ERROR_UNSUPPORTED so the
// library keeps exporting the whole ABI while the kernels land one file at a time. This file must
// be empty (and deleted) before the kernel work is called done.
#include "specula.h"
#include "specula_internal.h"

#define SPECULA_PENDING(name) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "%s is not implemented yet", name)

// ---- runtime (events, copies, graphs, kernel errors) ----
extern "C" int32_t specula_buffer_copy(specula_buffer *, uint64_t, const specula_buffer *, uint64_t, uint64_t, specula_stream *) { SPECULA_PENDING("specula_buffer_copy"); }
extern "C" int32_t specula_buffer_fill(specula_buffer *, uint64_t, uint64_t, int32_t, specula_stream *) { SPECULA_PENDING("specula_buffer_fill"); }
extern "C" int32_t specula_event_create(int32_t, specula_event **) { SPECULA_PENDING("specula_event_create"); }
extern "C" int32_t specula_event_record(specula_event *, specula_stream *) { SPECULA_PENDING("specula_event_record"); }
extern "C" int32_t specula_event_elapsed(const specula_event *, const specula_event *, float *) { SPECULA_PENDING("specula_event_elapsed"); }
extern "C" int32_t specula_event_destroy(specula_event *) { SPECULA_PENDING("specula_event_destroy"); }
extern "C" int32_t specula_kernel_errors(int32_t, int32_t *) { SPECULA_PENDING("specula_kernel_errors"); }
extern "C" int32_t specula_graph_begin(specula_stream *) { SPECULA_PENDING("specula_graph_begin"); }
extern "C" int32_t specula_graph_end(specula_stream *, specula_graph **) { SPECULA_PENDING("specula_graph_end"); }
extern "C" int32_t specula_graph_launch(specula_graph *, specula_stream *) { SPECULA_PENDING("specula_graph_launch"); }
extern "C" int32_t specula_graph_destroy(specula_graph *) { SPECULA_PENDING("specula_graph_destroy"); }

// ---- matrix products ----
extern "C" int32_t specula_type_supported(int32_t) { return 0; }
extern "C" int32_t specula_gemv(specula_stream *, int32_t, const specula_buffer *, uint64_t, int64_t, int64_t, const specula_buffer *, uint64_t, int32_t, specula_buffer *, uint64_t) { SPECULA_PENDING("specula_gemv"); }
extern "C" int32_t specula_gemm(specula_stream *, int32_t, const specula_buffer *, uint64_t, int64_t, int64_t, const specula_buffer *, uint64_t, int32_t, specula_buffer *, uint64_t) { SPECULA_PENDING("specula_gemm"); }

// ---- fused small ops ----
extern "C" int32_t specula_rms_norm(specula_stream *, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, specula_buffer *, uint64_t, int32_t, int32_t, float) { SPECULA_PENDING("specula_rms_norm"); }
extern "C" int32_t specula_add(specula_stream *, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, specula_buffer *, uint64_t, int64_t) { SPECULA_PENDING("specula_add"); }
extern "C" int32_t specula_swiglu(specula_stream *, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, specula_buffer *, uint64_t, int64_t) { SPECULA_PENDING("specula_swiglu"); }
extern "C" int32_t specula_softmax(specula_stream *, specula_buffer *, uint64_t, int32_t, int32_t, float) { SPECULA_PENDING("specula_softmax"); }
extern "C" int32_t specula_embedding(specula_stream *, int32_t, const specula_buffer *, uint64_t, int64_t, int32_t, const specula_buffer *, uint64_t, int32_t, specula_buffer *, uint64_t) { SPECULA_PENDING("specula_embedding"); }
extern "C" int32_t specula_rope(specula_stream *, const specula_rope_params *, specula_buffer *, uint64_t, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t) { SPECULA_PENDING("specula_rope"); }
extern "C" int32_t specula_kv_store(specula_stream *, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, int32_t, int32_t, specula_buffer *, uint64_t, specula_buffer *, uint64_t, int32_t, const specula_buffer *, uint64_t) { SPECULA_PENDING("specula_kv_store"); }

// ---- attention ----
extern "C" int32_t specula_flash_attention(specula_stream *, const specula_attention_params *, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, specula_buffer *, uint64_t) { SPECULA_PENDING("specula_flash_attention"); }
extern "C" uint64_t specula_attention_plain_scratch(const specula_attention_params *) { return 0; }
extern "C" int32_t specula_attention_plain(specula_stream *, const specula_attention_params *, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, const specula_buffer *, uint64_t, specula_buffer *, uint64_t, specula_buffer *, uint64_t) { SPECULA_PENDING("specula_attention_plain"); }
