/* build/bench_matmul: decode GEMV of every weight type on 4096 x 4096 and 4096 x 14336 matrices
 * (n = 1 and 8), as GB/s of weights read, next to the device-to-device copy bandwidth measured in
 * the same run (bytes read + written per second, as the copy moves both): the ratio is the figure
 * the issue sets (>= 0.8). Then the tensor-core GEMM at n = 512 on 4096 x 4096, in TFLOP/s. */
#include "bench_common.h"

static const struct { int32_t type; const char *name; int block, block_bytes; } TYPES[] = {
    {SPECULA_TYPE_Q4_0, "Q4_0", 32, 18}, {SPECULA_TYPE_Q8_0, "Q8_0", 32, 34}, {SPECULA_TYPE_Q4_K, "Q4_K", 256, 144},
    {SPECULA_TYPE_Q5_K, "Q5_K", 256, 176}, {SPECULA_TYPE_Q6_K, "Q6_K", 256, 210}, {SPECULA_TYPE_F16, "F16", 32, 64},
    {SPECULA_TYPE_BF16, "BF16", 32, 64}, {SPECULA_TYPE_F32, "F32", 32, 128},
};

typedef struct matmul_call {
    int32_t type;
    specula_buffer *w, *x, *y, *dst, *src;
    int64_t rows, cols;
    int32_t n;
    uint64_t copy_bytes;
} matmul_call;

static void run_gemv(void *p) {
    matmul_call *c = p;
    BENCH_OK(specula_gemv(bench_stream, c->type, c->w, 0, c->rows, c->cols, c->x, 0, c->n, c->y, 0));
}

static void run_gemm(void *p) {
    matmul_call *c = p;
    BENCH_OK(specula_gemm(bench_stream, c->type, c->w, 0, c->rows, c->cols, c->x, 0, c->n, c->y, 0));
}

static void run_copy(void *p) {
    matmul_call *c = p;
    BENCH_OK(specula_buffer_copy(c->dst, 0, c->src, 0, c->copy_bytes, bench_stream));
}

int main(void) {
    if (!bench_open("bench_matmul")) return 0;
    matmul_call c = {0};
    c.copy_bytes = 1ull << 30;
    c.src = bench_alloc(c.copy_bytes, 1);
    c.dst = bench_alloc(c.copy_bytes, 0);
    const double copy_ms = bench_time(run_copy, &c, 3, 20);
    const double copy_gbs = 2.0 * c.copy_bytes / (copy_ms * 1e6);
    printf("device-to-device copy of 1 GiB: %.3f ms, %.1f GB/s (read + write)\n", copy_ms, copy_gbs);
    specula_buffer_free(c.src);
    specula_buffer_free(c.dst);

    const int64_t shapes[2][2] = {{4096, 4096}, {4096, 14336}};
    c.x = bench_alloc(8ull * 14336 * 4, 0x3c);
    c.y = bench_alloc(8ull * 14336 * 4, 0);
    printf("%-5s %-12s %3s %10s %10s %8s\n", "type", "rows x cols", "n", "us", "GB/s", "of copy");
    double worst = 1e9;
    for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++) {
        for (int s = 0; s < 2; s++) {
            c.type = TYPES[t].type;
            c.rows = shapes[s][0];
            c.cols = shapes[s][1];
            const uint64_t bytes = (uint64_t)c.rows * (c.cols / TYPES[t].block) * TYPES[t].block_bytes;
            c.w = bench_alloc(bytes, 0x11);  /* small finite scales in every format */
            for (int n = 1; n <= 8; n += 7) {
                c.n = n;
                const double ms = bench_time(run_gemv, &c, 5, 50);
                const double gbs = bytes / (ms * 1e6);
                if (n == 1 && gbs / copy_gbs < worst) worst = gbs / copy_gbs;
                printf("%-5s %5lldx%-6lld %3d %10.1f %10.1f %7.0f%%\n", TYPES[t].name, (long long)c.rows, (long long)c.cols, n,
                       ms * 1e3, gbs, 100.0 * gbs / copy_gbs);
            }
            specula_buffer_free(c.w);
        }
    }
    printf("GEMV n=1: the slowest type reaches %.0f%% of the copy bandwidth\n", 100.0 * worst);
    specula_buffer_free(c.x);
    specula_buffer_free(c.y);

    c.rows = c.cols = 4096;
    c.n = 512;
    c.x = bench_alloc(512ull * 4096 * 4, 0x3c);
    c.y = bench_alloc(512ull * 4096 * 4, 0);
    for (size_t t = 0; t < 2; t++) {
        c.type = TYPES[t].type;
        c.w = bench_alloc((uint64_t)c.rows * (c.cols / TYPES[t].block) * TYPES[t].block_bytes, 0x11);
        const double ms = bench_time(run_gemm, &c, 3, 20);
        printf("GEMM %-5s 4096x4096 n=512: %.3f ms, %.1f TFLOP/s\n", TYPES[t].name, ms, 2.0 * c.rows * c.cols * c.n / (ms * 1e9));
        specula_buffer_free(c.w);
    }
    specula_buffer_free(c.x);
    specula_buffer_free(c.y);
    return 0;
}
