// The CUDA kernels' weight formats (cuda/src/quants.cuh, host-and-device code) run on the CPU
// against the independent C dequantiser of gguf_reference.h: every type, random blocks, every
// 16-weight part of every unit. Needs no GPU, so CI checks the block layouts the kernels decode.
#include "specula.h"
#include "../../cuda/src/quants.cuh"

extern "C" {
#include "gguf_reference.h"
}

#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>

static int failures;

template <typename F>
static void check(int type) {
    const int64_t cols = 768, rows = 5;  // 3 K-quant super-blocks, 24 units per row
    const size_t row_bytes = ref_row_bytes(type, cols);
    if (row_bytes % F::ALIGN != 0 || F::BLOCK != ref_block(type) || F::BLOCK_BYTES != ref_block_bytes(type)) {
        std::fprintf(stderr, "FAIL %s: block shape differs\n", ref_type_name(type));
        failures++;
        return;
    }
    uint8_t *w = static_cast<uint8_t *>(std::aligned_alloc(64, rows * row_bytes));
    float *ref = static_cast<float *>(std::malloc(cols * sizeof(float)));
    for (int64_t r = 0; r < rows; r++) ref_random_row(type, cols, w + r * row_bytes);
    int bad = 0;
    for (int64_t r = 0; r < rows && bad < 5; r++) {
        const uint8_t *row = w + r * row_bytes;
        ref_dequantize_row(type, row, cols, ref);
        for (int u = 0; u < cols / 32; u++) {
            for (int h = 0; h < 2; h++) {
                float got[16];
                F::part(row, u, h, got);
                for (int i = 0; i < 16; i++) {
                    const float want = ref[u * 32 + 16 * h + i];
                    if (!(std::fabs(got[i] - want) <= 1e-6f * (1.0f + std::fabs(want))) && bad++ < 5) {
                        std::fprintf(stderr, "FAIL %s row %lld unit %d weight %d: %g, want %g\n", ref_type_name(type),
                                     (long long)r, u, 16 * h + i, got[i], want);
                    }
                }
            }
        }
    }
    if constexpr (F::PLAIN) {
        ref_dequantize_row(type, w, cols, ref);  // plain formats: single elements too (the edge paths)
        for (int64_t c = 0; c < cols; c++) {
            if (F::element(w, c) != ref[c] && bad++ < 5) std::fprintf(stderr, "FAIL %s element %lld\n", ref_type_name(type), (long long)c);
        }
    }
    failures += bad;
    std::printf("%-5s %s\n", ref_type_name(type), bad ? "differs" : "matches the reference");
    std::free(w);
    std::free(ref);
}

// The reference's F16 rounding (used to check the KV store bit for bit) against cuda_fp16's.
static void check_half_rounding() {
    int bad = 0;
    for (int i = 0; i < 2000000 && bad < 5; i++) {
        uint32_t bits = ref_next() << 1 ^ ref_next();
        float f;
        std::memcpy(&f, &bits, 4);
        if (i % 2) f = ldexpf(ref_uniform(-1.0f, 1.0f), (int)(ref_next() % 40) - 26);  // around the F16 range
        if (f != f) continue;
        const uint16_t want = __half_as_ushort(__float2half_rn(f)), got = ref_float_to_half(f);
        if (got != want && bad++ < 5) std::fprintf(stderr, "FAIL F16 rounding of %a: %04x, want %04x\n", (double)f, got, want);
        if (ref_half_to_float(want) != __half2float(__ushort_as_half(want)) && bad++ < 5) {
            std::fprintf(stderr, "FAIL F16 %04x widened\n", want);
        }
    }
    failures += bad;
    std::printf("F16 rounding %s\n", bad ? "differs" : "matches cuda_fp16");
}

int main() {
    check_half_rounding();
    check<specula::format_f32>(REF_F32);
    check<specula::format_f16>(REF_F16);
    check<specula::format_bf16>(REF_BF16);
    check<specula::format_q4_0>(REF_Q4_0);
    check<specula::format_q8_0>(REF_Q8_0);
    check<specula::format_q4_k>(REF_Q4_K);
    check<specula::format_q5_k>(REF_Q5_K);
    check<specula::format_q6_k>(REF_Q6_K);
    // The host-side table the entry points check arguments with agrees with the reference too.
    for (int t : REF_TYPES) {
        specula_format_info f;
        if (!specula_format_of(t, &f) || f.block != ref_block(t) || f.block_bytes != ref_block_bytes(t)) {
            std::fprintf(stderr, "FAIL specula_format_of(%s)\n", ref_type_name(t));
            failures++;
        }
    }
    return failures == 0 ? 0 : 1;
}
