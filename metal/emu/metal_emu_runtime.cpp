// metal-emu's half of specula.h: what metal_runtime.m does on Apple (devices, buffers, streams,
// events, graphs, the error word, specula_metal_submit), on host memory, with each plan step run
// at once on the CPU (metal_emu_kernels.cpp); the kernel entry points are metal_abi.c's, shared
// with the real backend. Streams run their work synchronously, which is a valid order for
// everything a stream may do; a graph is the list of recorded steps, run again at each launch.
#include "specula.h"
#include "specula_internal.h"
#include "metal_plan.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

extern "C" int specula_metal_emu_dispatch(const char *name, const unsigned int groups[3], const unsigned int threads[3],
                                          void *const slots[8]);

namespace {
uint32_t error_word = 0;  // the device's sticky kernel errors (SPECULA_METAL_ERRORS_SLOT)
constexpr uint64_t MAX_THREADS_PER_GROUP = 1024;

char *base(const specula_buffer *b) { return static_cast<char *>(b->mtl); }
}  // namespace

struct specula_stream {
    std::vector<unsigned char> scratch;
    bool recording = false;
    specula_graph *graph = nullptr;
};

struct specula_graph {
    std::vector<specula_metal_step> steps;
    uint64_t scratch_bytes = 0;
};

struct specula_event {
    std::chrono::steady_clock::time_point at;
    bool recorded = false;
};

namespace {
int32_t run_step(specula_stream *s, const specula_metal_step *st) {
    void *slots[8] = {};
    for (int i = 0; i < st->n_bindings; i++) {
        const specula_metal_binding &b = st->bindings[i];
        slots[i + 1] = (b.scratch ? reinterpret_cast<char *>(s->scratch.data()) : base(b.buffer)) + b.offset;
    }
    switch (st->kind) {
        case SPECULA_METAL_BLIT_COPY: std::memmove(slots[2], slots[1], (size_t)st->blit_bytes); return SPECULA_OK;
        case SPECULA_METAL_BLIT_FILL: std::memset(slots[1], (int)st->fill_value, (size_t)st->blit_bytes); return SPECULA_OK;
        default: break;
    }
    const uint64_t threads = (uint64_t)st->threads[0] * st->threads[1] * st->threads[2];
    if (threads > MAX_THREADS_PER_GROUP) {
        return specula_fail(SPECULA_ERROR_BACKEND, "kernel %s: %llu threads per threadgroup, the device allows %llu", st->kernel,
                            (unsigned long long)threads, (unsigned long long)MAX_THREADS_PER_GROUP);
    }
    unsigned char args[SPECULA_METAL_MAX_ARGS_BYTES + 16] __attribute__((aligned(16)));
    std::memcpy(args, st->args, st->args_bytes);  // setBytes: the kernel sees a copy
    slots[SPECULA_METAL_ARGS_SLOT] = args;
    if (st->uses_errors) slots[SPECULA_METAL_ERRORS_SLOT] = &error_word;
    if (specula_metal_emu_dispatch(st->kernel, st->groups, st->threads, slots) != 0) {
        return specula_fail(SPECULA_ERROR_BACKEND, "kernel %s is not in the metallib", st->kernel);
    }
    return SPECULA_OK;
}

int32_t ensure_scratch(specula_stream *s, uint64_t bytes) {
    if (s->scratch.size() < bytes) s->scratch.resize((size_t)bytes, 0xff);
    return SPECULA_OK;
}
}  // namespace

extern "C" {

int32_t specula_metal_submit(specula_stream *stream, const specula_metal_plan *plan) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    if (stream->recording) {
        for (int i = 0; i < plan->n_steps; i++) stream->graph->steps.push_back(plan->steps[i]);
        if (plan->scratch_bytes > stream->graph->scratch_bytes) stream->graph->scratch_bytes = plan->scratch_bytes;
        return SPECULA_OK;
    }
    int32_t status = ensure_scratch(stream, plan->scratch_bytes);
    for (int i = 0; status == SPECULA_OK && i < plan->n_steps; i++) status = run_step(stream, &plan->steps[i]);
    return status;
}

int32_t specula_device_count(int32_t *count) {
    if (count == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "count is NULL");
    *count = 1;
    specula_clear_error();
    return SPECULA_OK;
}

int32_t specula_device_get_info(int32_t device, specula_device_info *info) {
    if (info == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "info is NULL");
    if (device != 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "no Metal device %d", device);
    std::memset(info, 0, sizeof *info);
    std::snprintf(info->name, sizeof info->name, "metal-emu (CPU emulation of the Metal kernels)");
    info->total_memory = 4ull << 30;
    info->free_memory = 4ull << 30;
    info->compute_major = 7;
    info->integrated = 1;
    info->can_map_host_memory = 1;
    specula_clear_error();
    return SPECULA_OK;
}

int32_t specula_stream_create(int32_t device, specula_stream **stream) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    if (device != 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "no Metal device %d", device);
    *stream = new (std::nothrow) specula_stream();
    return *stream != nullptr ? SPECULA_OK : specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a stream");
}

int32_t specula_stream_synchronize(specula_stream *stream) {
    return stream == nullptr ? specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL") : SPECULA_OK;
}

int32_t specula_stream_destroy(specula_stream *stream) {
    delete stream;
    return SPECULA_OK;
}

int32_t specula_buffer_alloc(int32_t device, uint64_t bytes, specula_buffer **buffer) {
    if (buffer == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "buffer is NULL");
    *buffer = nullptr;
    if (bytes == 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "a buffer of 0 bytes");
    void *p = std::malloc((size_t)bytes);  // exact size: ASan sees one past the end
    if (p == nullptr) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "%llu bytes", (unsigned long long)bytes);
    std::memset(p, 0xff, (size_t)bytes);  // as if uninitialised: NaN as F32 and F16
    *buffer = new specula_buffer{device, p, nullptr, bytes};
    return SPECULA_OK;
}

int32_t specula_buffer_register_host(int32_t device, void *host, uint64_t bytes, specula_buffer **buffer) {
    if (buffer == nullptr || host == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "host or buffer is NULL");
    *buffer = nullptr;
    if (bytes == 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "registering 0 bytes");
    if ((uintptr_t)host % 4096 != 0) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "host memory at %p does not start on a page (4096 bytes)", host);
    }
    *buffer = new specula_buffer{device, host, host, bytes};
    return SPECULA_OK;
}

int32_t specula_buffer_free(specula_buffer *buffer) {
    if (buffer == nullptr) return SPECULA_OK;
    if (buffer->host == nullptr) std::free(buffer->mtl);
    delete buffer;
    return SPECULA_OK;
}

uint64_t specula_buffer_size(const specula_buffer *buffer) { return buffer == nullptr ? 0 : buffer->bytes; }

int32_t specula_buffer_upload(specula_buffer *buffer, uint64_t offset, const void *host, uint64_t bytes, specula_stream *stream) {
    int32_t status = specula_metal_check_host_range(buffer, offset, bytes, host);
    if (status != SPECULA_OK) return status;
    if (buffer->host != nullptr) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "registered host memory is read-only to the device");
    if (stream != nullptr && stream->recording) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "uploads cannot be recorded into a graph");
    std::memcpy(base(buffer) + offset, host, (size_t)bytes);
    return SPECULA_OK;
}

int32_t specula_buffer_download(const specula_buffer *buffer, uint64_t offset, void *host, uint64_t bytes, specula_stream *stream) {
    int32_t status = specula_metal_check_host_range(buffer, offset, bytes, host);
    if (status != SPECULA_OK) return status;
    if (stream != nullptr && stream->recording) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "downloads cannot be recorded into a graph");
    std::memcpy(host, base(buffer) + offset, (size_t)bytes);
    return SPECULA_OK;
}

int32_t specula_event_create(int32_t, specula_event **event) {
    if (event == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "event is NULL");
    *event = new specula_event();
    return SPECULA_OK;
}

int32_t specula_event_record(specula_event *event, specula_stream *stream) {
    if (event == nullptr || stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "event or stream is NULL");
    event->at = std::chrono::steady_clock::now();
    event->recorded = true;
    return SPECULA_OK;
}

int32_t specula_event_elapsed(const specula_event *start, const specula_event *end, float *milliseconds) {
    if (start == nullptr || end == nullptr || milliseconds == nullptr) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "start, end or milliseconds is NULL");
    }
    if (!start->recorded || !end->recorded) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "an event was never recorded");
    *milliseconds = std::chrono::duration<float, std::milli>(end->at - start->at).count();
    return SPECULA_OK;
}

int32_t specula_event_destroy(specula_event *event) {
    delete event;
    return SPECULA_OK;
}

int32_t specula_kernel_errors(int32_t device, int32_t *errors) {
    if (errors == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "errors is NULL");
    if (device != 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "no Metal device %d", device);
    *errors = (int32_t)__atomic_exchange_n(&error_word, 0u, __ATOMIC_SEQ_CST);
    return SPECULA_OK;
}

int32_t specula_graph_begin(specula_stream *stream) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    if (stream->recording) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "the stream is already recording a graph");
    stream->graph = new specula_graph();
    stream->recording = true;
    return SPECULA_OK;
}

int32_t specula_graph_end(specula_stream *stream, specula_graph **graph) {
    if (stream == nullptr || graph == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream or graph is NULL");
    *graph = nullptr;
    if (!stream->recording) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "the stream is not recording a graph");
    *graph = stream->graph;
    stream->graph = nullptr;
    stream->recording = false;
    return SPECULA_OK;
}

int32_t specula_graph_launch(specula_graph *graph, specula_stream *stream) {
    if (graph == nullptr || stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "graph or stream is NULL");
    if (stream->recording) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "launching a graph while recording one");
    int32_t status = ensure_scratch(stream, graph->scratch_bytes);
    for (size_t i = 0; status == SPECULA_OK && i < graph->steps.size(); i++) status = run_step(stream, &graph->steps[i]);
    return status;
}

int32_t specula_graph_destroy(specula_graph *graph) {
    delete graph;
    return SPECULA_OK;
}

}  // extern "C"
