// metal-emu: every Metal kernel of metal/kernels, compiled for the CPU (the .metal sources parsed
// against tools/metal_shim.h, as the syntax check does, with metal_emu.h's definitions), and the
// table that runs a plan's dispatch step by its kernel name: each kernel's [[buffer(n)]] slots
// and [[..._position_...]] values bound as Metal binds them (metal_runtime.m's run_step).
// Built by tools/metal-emu (clang++: the shim's vector types are clang's); the .metal files are
// included after the threadgroup-array rewrite that tool does (threadgroup arrays become
// per-OS-thread statics, as cuda-emu's __shared__).
#include <metal_stdlib>
#include "metal_emu.h"

#include "gemv.metal"
#include "gemm.metal"
#include "ops.metal"
#include "flash_attention.metal"

#include <string.h>

namespace emu {
void run_grid(const char *name, const unsigned int grid[3], const unsigned int block[3], void (*fn)(void *), void *ctx);
}

namespace {

// A dispatch's bound memory: slot 0 the argument bytes, 1..6 the buffers, 7 the error word.
struct call {
    void *slot[8];
};

// The running thread's Metal position values.
struct pos {
    uint3 tid, group, tg_size;
    uint linear;
    ushort sg, lane;
    uint gx() const { return group.x * tg_size.x + tid.x; }
    uint2 g2() const { return uint2{group.x * tg_size.x + tid.x, group.y * tg_size.y + tid.y}; }
    uint3 g3() const { return uint3{group.x * tg_size.x + tid.x, group.y * tg_size.y + tid.y, group.z * tg_size.z + tid.z}; }
};

pos here() {
    unsigned int v[12];
    emu::current_indices(v);
    pos p;
    p.tid = uint3{v[0], v[1], v[2]};
    p.group = uint3{v[3], v[4], v[5]};
    p.tg_size = uint3{v[6], v[7], v[8]};
    p.linear = v[0] + v[6] * (v[1] + v[7] * v[2]);
    p.sg = (ushort)(p.linear / 32);
    p.lane = (ushort)(p.linear % 32);
    return p;
}

template <typename T> T &args(const call &c) { return *static_cast<T *>(c.slot[0]); }
template <typename T> T *at(const call &c, int s) { return static_cast<T *>(c.slot[s]); }

template <typename F> void k_gemv(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    gemv<F>(args<specula_matmul_args>(c), at<const uchar>(c, 1), at<const float>(c, 2), at<float>(c, 3), p.group.x, p.sg, p.lane);
}
template <typename F> void k_gemm(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    gemm<F>(args<specula_matmul_args>(c), at<const uchar>(c, 1), at<const float>(c, 2), at<float>(c, 3), uint2{p.group.x, p.group.y},
            (ushort)p.linear, p.sg);
}
template <typename F> void k_embedding(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    embedding<F>(args<specula_embedding_args>(c), at<const uchar>(c, 1), at<const int>(c, 2), at<float>(c, 3), at<atomic_uint>(c, 7),
                 p.group.x, (ushort)p.linear);
}
void k_rms_norm(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    rms_norm(args<specula_rms_norm_args>(c), at<const float>(c, 1), at<const float>(c, 2), at<float>(c, 3), p.group.x, (ushort)p.linear,
             p.sg, p.lane);
}
void k_add(void *x) {
    const call &c = *static_cast<call *>(x);
    add(args<specula_elementwise_args>(c), at<const float>(c, 1), at<const float>(c, 2), at<float>(c, 3), here().gx());
}
void k_swiglu(void *x) {
    const call &c = *static_cast<call *>(x);
    swiglu(args<specula_elementwise_args>(c), at<const float>(c, 1), at<const float>(c, 2), at<float>(c, 3), here().gx());
}
void k_softmax(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    softmax(args<specula_softmax_args>(c), at<float>(c, 1), p.group.x, (ushort)p.linear, p.sg, p.lane);
}
void k_rope(void *x) {
    const call &c = *static_cast<call *>(x);
    rope(args<specula_rope_args>(c), at<float>(c, 1), at<const int>(c, 2), at<const float>(c, 3), here().g2());
}
void k_kv_store(void *x) {
    const call &c = *static_cast<call *>(x);
    kv_store(args<specula_kv_store_args>(c), at<const float>(c, 1), at<const float>(c, 2), at<half>(c, 3), at<half>(c, 4),
             at<const int>(c, 5), at<atomic_uint>(c, 7), here().g2());
}
void k_flash_attn_prefill(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    flash_attn_prefill(args<specula_attention_args>(c), at<const float>(c, 1), at<const half>(c, 2), at<const half>(c, 3),
                       at<const int>(c, 4), at<float>(c, 5), at<atomic_uint>(c, 7), uint2{p.group.x, p.group.y}, (ushort)p.linear, p.sg,
                       p.lane);
}
void k_flash_attn_decode(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    flash_attn_decode(args<specula_attention_args>(c), at<const float>(c, 1), at<const half>(c, 2), at<const half>(c, 3),
                      at<const int>(c, 4), at<float>(c, 5), at<atomic_uint>(c, 7), p.group, p.sg, p.lane);
}
void k_flash_attn_merge(void *x) {
    const call &c = *static_cast<call *>(x);
    const pos p = here();
    flash_attn_merge(args<specula_attention_args>(c), at<const float>(c, 1), at<float>(c, 2), uint2{p.group.x, p.group.y}, (ushort)p.linear);
}
void k_attn_scores(void *x) {
    const call &c = *static_cast<call *>(x);
    attn_scores(args<specula_attention_args>(c), at<const float>(c, 1), at<const half>(c, 2), at<const int>(c, 3), at<float>(c, 4),
                at<atomic_uint>(c, 7), here().g3());
}
void k_attn_output(void *x) {
    const call &c = *static_cast<call *>(x);
    attn_output(args<specula_attention_args>(c), at<const float>(c, 1), at<const half>(c, 2), at<const int>(c, 3), at<float>(c, 4), here().g3());
}
void k_copy_bytes(void *x) {
    const call &c = *static_cast<call *>(x);
    copy_bytes(args<specula_elementwise_args>(c), at<const uchar>(c, 1), at<uchar>(c, 2), here().gx());
}

struct entry {
    const char *name;
    void (*fn)(void *);
};

#define SPECULA_EMU_FORMATS(family, k)                                                                            \
    {family "_f32", k<format_f32>}, {family "_f16", k<format_f16>}, {family "_bf16", k<format_bf16>},             \
        {family "_q4_0", k<format_q4_0>}, {family "_q8_0", k<format_q8_0>}, {family "_q4_k", k<format_q4_k>},     \
        {family "_q5_k", k<format_q5_k>}, {family "_q6_k", k<format_q6_k>}

const entry KERNELS[] = {
    SPECULA_EMU_FORMATS("gemv", k_gemv),
    SPECULA_EMU_FORMATS("gemm", k_gemm),
    SPECULA_EMU_FORMATS("embedding", k_embedding),
    {"rms_norm", k_rms_norm}, {"add", k_add}, {"swiglu", k_swiglu}, {"softmax", k_softmax}, {"rope", k_rope},
    {"kv_store", k_kv_store}, {"flash_attn_prefill", k_flash_attn_prefill}, {"flash_attn_decode", k_flash_attn_decode},
    {"flash_attn_merge", k_flash_attn_merge}, {"attn_scores", k_attn_scores}, {"attn_output", k_attn_output},
    {"copy_bytes", k_copy_bytes},
};

}  // namespace

// Runs kernel `name` over groups x threads with slots[0..7] bound; 0, or -1 for an unknown name.
extern "C" int specula_metal_emu_dispatch(const char *name, const unsigned int groups[3], const unsigned int threads[3], void *const slots[8]) {
    for (const entry &e : KERNELS) {
        if (strcmp(e.name, name) != 0) continue;
        call c;
        for (int i = 0; i < 8; i++) c.slot[i] = slots[i];
        emu::run_grid(name, groups, threads, e.fn, &c);
        return 0;
    }
    return -1;
}
