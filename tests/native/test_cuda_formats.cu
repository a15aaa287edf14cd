// The CUDA kernels' host-and-device code run on the CPU, so CI checks it without a GPU: the weight
// formats (cuda/src/quants.cuh) against the independent C dequantiser of gguf_reference.h (every
// type, random blocks, every 16-weight part of every unit, single elements of the plain types),
// the F16 rounding of that reference against cuda_fp16, and RoPE's angles (cuda/src/rope.cuh)
// against a reference written from Rope.java and RopeScaling.java.
#include "specula.h"
#include "../../cuda/src/quants.cuh"
#include "../../cuda/src/rope.cuh"

extern "C" {
#include "gguf_reference.h"
}

#include <cstdio>
#include <algorithm>
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

// Rope.java: freq_i = base^(-2i/d) / ff_i * (freqScale (1 - mix_i) + mix_i), angle (float) pos * (float) freq_i,
// cos/sin in double times RopeScaling.magnitude(); correction dims as RopeScaling.correctionDims.
static void check_rope_case(const char *what, specula_rope_params p, const float *ff) {
    const float pi_f = 3.14159265358979323846f;
    float lo = 0, hi = 0, magnitude = p.attn_factor;
    if (p.ext_factor != 0) {
        const float dl = p.rope_dim * (float)std::log((double)(p.n_ctx_orig / (p.beta_fast * 2 * pi_f))) / (2 * (float)std::log((double)p.freq_base));
        const float dh = p.rope_dim * (float)std::log((double)(p.n_ctx_orig / (p.beta_slow * 2 * pi_f))) / (2 * (float)std::log((double)p.freq_base));
        lo = std::max(0.0f, (float)std::floor((double)dl));
        hi = std::min((float)(p.rope_dim - 1), (float)std::ceil((double)dh));
        magnitude = p.attn_factor * (1.0f + 0.1f * (float)std::log((double)(1.0f / p.freq_scale)));
    }
    const specula::rope_args a = specula::rope_args_of(&p);
    int bad = 0;
    if (a.corr_low != lo || a.corr_high != hi || a.magnitude != magnitude) {
        std::fprintf(stderr, "FAIL %s: corr [%g, %g] magnitude %g, want [%g, %g] %g\n", what, a.corr_low, a.corr_high, a.magnitude, lo, hi, magnitude);
        bad++;
    }
    const int positions[] = {0, 1, 17, 4999, 12345, 100000};
    for (int i = 0; i < p.rope_dim / 2; i++) {
        double mix = 0;
        if (p.ext_factor != 0) {
            const double y = (i - (double)lo) / std::max(0.001, (double)hi - lo);
            mix = (1 - std::min(1.0, std::max(0.0, y))) * p.ext_factor;
        }
        const double freq = std::pow((double)p.freq_base, -2.0 * i / p.rope_dim) / (ff ? ff[i] : 1.0) * (p.freq_scale * (1 - mix) + mix);
        int i0, i1;
        specula::rope_pair(a, i, &i0, &i1);
        const int w0 = p.mode == SPECULA_ROPE_NEOX ? i : 2 * i, w1 = p.mode == SPECULA_ROPE_NEOX ? i + p.rope_dim / 2 : 2 * i + 1;
        if ((i0 != w0 || i1 != w1) && bad++ < 5) std::fprintf(stderr, "FAIL %s: pair %d rotates (%d, %d), want (%d, %d)\n", what, i, i0, i1, w0, w1);
        for (int pos : positions) {
            const float theta = (float)pos * (float)freq;
            const float wc = (float)(std::cos((double)theta) * magnitude), ws = (float)(std::sin((double)theta) * magnitude);
            float c, s;
            specula::rope_rotation(a, pos, i, ff, &c, &s);
            if (!(std::fabs(c - wc) <= 1e-6f && std::fabs(s - ws) <= 1e-6f) && bad++ < 5) {
                std::fprintf(stderr, "FAIL %s: pair %d at %d: cos %.9g sin %.9g, want %.9g %.9g\n", what, i, pos, c, s, wc, ws);
            }
        }
    }
    failures += bad;
    std::printf("rope %s %s\n", what, bad ? "differs" : "matches Rope.java");
}

static void check_rope() {
    float ff[64];
    for (int i = 0; i < 64; i++) ff[i] = ref_uniform(1.0f, 8.0f);
    specula_rope_params p = {1, 1, 128, 128, SPECULA_ROPE_NORM, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f, 0};
    check_rope_case("NORM", p, nullptr);
    p.mode = SPECULA_ROPE_NEOX, p.rope_dim = 64, p.freq_base = 500000.0f;
    check_rope_case("NEOX, 64 of 128 rotated, frequency factors", p, ff);
    p.freq_scale = 0.25f;
    check_rope_case("NEOX, linear scaling 4", p, nullptr);
    p.ext_factor = 1.0f, p.rope_dim = 128, p.freq_base = 1000000.0f, p.attn_factor = 0.9f, p.n_ctx_orig = 4096;
    check_rope_case("NEOX, YaRN 4 from 4096", p, ff);
    p.mode = SPECULA_ROPE_NORM, p.rope_dim = 48, p.n_ctx_orig = 32768, p.beta_fast = 16.0f, p.beta_slow = 2.0f, p.freq_scale = 1.0f / 16;
    check_rope_case("NORM, YaRN 16 from 32768, 48 rotated", p, nullptr);
}

int main() {
    check_half_rounding();
    check_rope();
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
