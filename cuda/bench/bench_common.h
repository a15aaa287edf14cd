/* Timing helpers of the native benchmarks: every figure is timed with events on one stream,
 * after warm-up launches, as the mean over repeated launches. */
#ifndef SPECULA_BENCH_COMMON_H
#define SPECULA_BENCH_COMMON_H

#include "specula.h"

#include <stdio.h>
#include <stdlib.h>

#define BENCH_OK(call)                                                                   \
    do {                                                                                 \
        int32_t st_ = (call);                                                            \
        if (st_ != SPECULA_OK) {                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, specula_last_error()); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static specula_stream *bench_stream;
static specula_event *bench_e0, *bench_e1;

/* Opens device 0, or says why not and returns 0. */
static int bench_open(const char *name) {
    int32_t count = 0;
    if (specula_device_count(&count) != SPECULA_OK || count == 0) {
        printf("%s: no CUDA device (%s)\n", name, specula_last_error());
        return 0;
    }
    specula_device_info info;
    BENCH_OK(specula_device_get_info(0, &info));
    printf("%s on %s (sm_%d%d, %d SMs, %llu MiB)\n", name, info.name, info.compute_major, info.compute_minor,
           info.multiprocessors, (unsigned long long)(info.total_memory >> 20));
    BENCH_OK(specula_stream_create(0, &bench_stream));
    BENCH_OK(specula_event_create(0, &bench_e0));
    BENCH_OK(specula_event_create(0, &bench_e1));
    return 1;
}

static specula_buffer *bench_alloc(uint64_t bytes, int fill) {
    specula_buffer *b = NULL;
    BENCH_OK(specula_buffer_alloc(0, bytes, &b));
    BENCH_OK(specula_buffer_fill(b, 0, bytes, fill, bench_stream));
    return b;
}

/* Mean milliseconds of one call of fn(arg) over `reps` timed calls after `warmup` untimed ones. */
static double bench_time(void (*fn)(void *), void *arg, int warmup, int reps) {
    for (int i = 0; i < warmup; i++) fn(arg);
    BENCH_OK(specula_event_record(bench_e0, bench_stream));
    for (int i = 0; i < reps; i++) fn(arg);
    BENCH_OK(specula_event_record(bench_e1, bench_stream));
    float ms = 0;
    BENCH_OK(specula_event_elapsed(bench_e0, bench_e1, &ms));
    int32_t errors = 0;
    BENCH_OK(specula_kernel_errors(0, &errors));
    if (errors != 0) {
        fprintf(stderr, "kernel errors %d during a benchmark\n", errors);
        exit(1);
    }
    return ms / reps;
}

#endif
