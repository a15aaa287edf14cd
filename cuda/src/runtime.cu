// Devices, streams, buffers, events, sticky kernel errors and graphs of specula.h on the CUDA runtime.
#include "cuda_internal.cuh"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace {

int32_t cuda_fail(cudaError_t e, const char *what) { return specula_cuda_fail(e, what); }

int32_t check_device(int32_t device) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return cuda_fail(e, "cudaGetDeviceCount");
    if (device < 0 || device >= count) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "device %d does not exist (%d device%s)", device, count,
                            count == 1 ? "" : "s");
    }
    e = cudaSetDevice(device);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaSetDevice");
}

int32_t check_range(const specula_buffer *b, uint64_t offset, uint64_t bytes, const void *host) {
    if (b == nullptr || host == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "buffer or host pointer is NULL");
    if (offset > b->bytes || bytes > b->bytes - offset) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "range [%llu, %llu + %llu) is outside the buffer of %llu bytes",
                            (unsigned long long)offset, (unsigned long long)offset, (unsigned long long)bytes,
                            (unsigned long long)b->bytes);
    }
    return SPECULA_OK;
}

enum { MAX_DEVICES = 64 };
std::mutex error_words_lock;
unsigned int *error_words[MAX_DEVICES];

// Frees the error words at exit, before the CUDA runtime's own exit handler (registered when the
// runtime initialised, so earlier, so run later): memory checkers see no device allocation left.
void free_error_words() {
    std::lock_guard<std::mutex> hold(error_words_lock);
    for (int d = 0; d < MAX_DEVICES; d++) {
        if (error_words[d] == nullptr) continue;
        cudaSetDevice(d);
        cudaFree(error_words[d]);
        error_words[d] = nullptr;
    }
}

// Allocates and zeroes the device's sticky error word once (the device is current).
int32_t ensure_error_word(int32_t device) {
    if (device >= MAX_DEVICES) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "device %d: at most %d devices", device, MAX_DEVICES);
    std::lock_guard<std::mutex> hold(error_words_lock);
    if (error_words[device] != nullptr) return SPECULA_OK;
    unsigned int *word = nullptr;
    cudaError_t e = cudaMalloc(&word, sizeof *word);
    if (e != cudaSuccess) return cuda_fail(e, "cudaMalloc (kernel error word)");
    e = cudaMemset(word, 0, sizeof *word);
    if (e == cudaSuccess) e = cudaStreamSynchronize(nullptr);  // a device memset returns before it is done
    if (e != cudaSuccess) {
        cudaFree(word);
        return cuda_fail(e, "cudaMemset (kernel error word)");
    }
    error_words[device] = word;
    static bool exit_handler = false;
    if (!exit_handler) exit_handler = std::atexit(free_error_words) == 0;
    return SPECULA_OK;
}

// A NULL stream means synchronous, but cudaMemcpy from pageable memory returns once the data is
// staged, and device-to-device copies and memsets return at once: wait for the legacy stream, which
// the non-blocking streams the kernels run on do not otherwise order against.
cudaError_t finish_synchronous(cudaError_t e, const specula_stream *stream) {
    if (e != cudaSuccess || stream != nullptr) return e;
    return cudaStreamSynchronize(nullptr);
}

}  // namespace

int32_t specula_cuda_fail(cudaError_t e, const char *what) {
    int32_t status = e == cudaErrorMemoryAllocation ? SPECULA_ERROR_OUT_OF_MEMORY
                     : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? SPECULA_ERROR_NO_DEVICE
                     : e == cudaErrorInvalidDevice ? SPECULA_ERROR_INVALID_ARGUMENT
                     : SPECULA_ERROR_BACKEND;
    cudaGetLastError();  // clear the non-sticky error state the call left
    return specula_fail(status, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

unsigned int *specula_cuda_error_word(int32_t device) {
    if (device < 0 || device >= MAX_DEVICES) return nullptr;
    std::lock_guard<std::mutex> hold(error_words_lock);
    return error_words[device];
}

int32_t specula_cuda_stream_scratch(specula_stream *stream, uint64_t bytes, void **scratch) {
    if (stream->scratch_bytes < bytes) {
        void *p = nullptr;
        // Allowed while recording: graphs are captured in relaxed mode (specula_graph_begin).
        cudaError_t e = cudaMalloc(&p, bytes);
        if (e != cudaSuccess) return cuda_fail(e, "cudaMalloc (attention scratch)");
        try {
            stream->scratch_blocks.push_back(p);
        } catch (...) {
            cudaFree(p);
            return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a scratch block");
        }
        stream->scratch_bytes = bytes;
    }
    *scratch = stream->scratch_blocks.back();
    return SPECULA_OK;
}

int32_t specula_cuda_begin(const char *fn, const specula_stream *stream) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: stream is NULL", fn);
    cudaError_t e = cudaSetDevice(stream->device);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaSetDevice");
}

int32_t specula_cuda_need(const char *fn, const specula_stream *stream, const specula_buffer *b, uint64_t offset,
                          uint64_t bytes, uint64_t align, const char *what) {
    if (b == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %s: buffer is NULL", fn, what);
    if (stream != nullptr && b->device != stream->device) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %s: buffer of device %d on a stream of device %d", fn, what,
                            b->device, stream->device);
    }
    uint64_t address = (uint64_t)(uintptr_t)b->device_ptr + offset;
    if (address % align != 0) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %s: offset %llu is not %llu-byte aligned", fn, what,
                            (unsigned long long)offset, (unsigned long long)align);
    }
    if (offset > b->bytes || bytes > b->bytes - offset) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "%s: %s: [%llu, %llu + %llu) is outside the buffer of %llu bytes",
                            fn, what, (unsigned long long)offset, (unsigned long long)offset, (unsigned long long)bytes,
                            (unsigned long long)b->bytes);
    }
    return SPECULA_OK;
}

int32_t specula_cuda_launched(const char *fn) {
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, fn);
}

extern "C" int32_t specula_device_count(int32_t *count) {
    if (count == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "count is NULL");
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        *count = 0;
        cuda_fail(e, "cudaGetDeviceCount");  // the reason stays readable in specula_last_error()
        return SPECULA_OK;
    }
    specula_clear_error();
    *count = n;
    return SPECULA_OK;
}

extern "C" int32_t specula_device_get_info(int32_t device, specula_device_info *info) {
    if (info == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "info is NULL");
    int32_t s = check_device(device);
    if (s != SPECULA_OK) return s;
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess) return cuda_fail(e, "cudaGetDeviceProperties");
    std::memset(info, 0, sizeof *info);
    std::snprintf(info->name, sizeof info->name, "%s", p.name);
    size_t free_bytes = 0, total_bytes = 0;
    e = cudaMemGetInfo(&free_bytes, &total_bytes);
    if (e != cudaSuccess) return cuda_fail(e, "cudaMemGetInfo");
    info->total_memory = total_bytes;
    info->free_memory = free_bytes;
    info->compute_major = p.major;
    info->compute_minor = p.minor;
    info->integrated = p.integrated ? 1 : 0;
    info->multiprocessors = p.multiProcessorCount;
    info->can_map_host_memory = p.canMapHostMemory ? 1 : 0;
    specula_clear_error();
    return SPECULA_OK;
}

extern "C" int32_t specula_stream_create(int32_t device, specula_stream **stream) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    *stream = nullptr;
    int32_t s = check_device(device);
    if (s != SPECULA_OK) return s;
    // The device's error word is made here, outside any recording: kernels need it on every stream.
    s = ensure_error_word(device);
    if (s != SPECULA_OK) return s;
    auto *st = new (std::nothrow) specula_stream{device, nullptr, {}, 0};
    if (st == nullptr) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a stream");
    cudaError_t e = cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        delete st;
        return cuda_fail(e, "cudaStreamCreateWithFlags");
    }
    // Split-K attention partials for up to 128 heads of head_dim 128, made now so that recording a
    // decode step allocates nothing; larger models grow it on first use (relaxed capture allows it).
    void *scratch = nullptr;
    const uint64_t scratch_bytes = (uint64_t)SPECULA_FA_DECODE_MAX_TOKENS * 128 * SPECULA_FA_MAX_SPLITS * (SPECULA_FA_MAX_HEAD_DIM + 2) * 4;
    if (cudaMalloc(&scratch, scratch_bytes) == cudaSuccess) {
        try {
            st->scratch_blocks.push_back(scratch);
            st->scratch_bytes = scratch_bytes;
        } catch (...) {
            cudaFree(scratch);
        }
    } else {
        cudaGetLastError();  // not fatal: the first split-K call allocates what it needs
    }
    *stream = st;
    return SPECULA_OK;
}

extern "C" int32_t specula_stream_synchronize(specula_stream *stream) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    cudaError_t e = cudaStreamSynchronize(stream->stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaStreamSynchronize");
}

extern "C" int32_t specula_stream_destroy(specula_stream *stream) {
    if (stream == nullptr) return SPECULA_OK;
    cudaSetDevice(stream->device);
    cudaError_t e = cudaStreamDestroy(stream->stream);
    for (void *p : stream->scratch_blocks) cudaFree(p);
    delete stream;
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaStreamDestroy");
}

extern "C" int32_t specula_buffer_alloc(int32_t device, uint64_t bytes, specula_buffer **buffer) {
    if (buffer == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "buffer is NULL");
    *buffer = nullptr;
    if (bytes == 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "a buffer of 0 bytes");
    int32_t s = check_device(device);
    if (s != SPECULA_OK) return s;
    void *p = nullptr;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) return cuda_fail(e, "cudaMalloc");
    auto *b = new (std::nothrow) specula_buffer{device, p, nullptr, bytes};
    if (b == nullptr) {
        cudaFree(p);
        return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a buffer");
    }
    *buffer = b;
    return SPECULA_OK;
}

extern "C" int32_t specula_buffer_register_host(int32_t device, void *host, uint64_t bytes, specula_buffer **buffer) {
    if (buffer == nullptr || host == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "host or buffer is NULL");
    *buffer = nullptr;
    if (bytes == 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "registering 0 bytes");
    int32_t s = check_device(device);
    if (s != SPECULA_OK) return s;
    cudaError_t e = cudaHostRegister(host, bytes, cudaHostRegisterMapped | cudaHostRegisterReadOnly);
    if (e != cudaSuccess) return cuda_fail(e, "cudaHostRegister");
    void *dev = nullptr;
    e = cudaHostGetDevicePointer(&dev, host, 0);
    if (e != cudaSuccess) {
        cudaHostUnregister(host);
        return cuda_fail(e, "cudaHostGetDevicePointer");
    }
    auto *b = new (std::nothrow) specula_buffer{device, dev, host, bytes};
    if (b == nullptr) {
        cudaHostUnregister(host);
        return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a buffer");
    }
    *buffer = b;
    return SPECULA_OK;
}

extern "C" int32_t specula_buffer_free(specula_buffer *buffer) {
    if (buffer == nullptr) return SPECULA_OK;
    cudaSetDevice(buffer->device);
    bool registered = buffer->host_ptr != nullptr;
    cudaError_t e = registered ? cudaHostUnregister(buffer->host_ptr) : cudaFree(buffer->device_ptr);
    delete buffer;
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, registered ? "cudaHostUnregister" : "cudaFree");
}

extern "C" uint64_t specula_buffer_size(const specula_buffer *buffer) {
    return buffer == nullptr ? 0 : buffer->bytes;
}

extern "C" int32_t specula_buffer_upload(specula_buffer *buffer, uint64_t offset, const void *host, uint64_t bytes,
                                         specula_stream *stream) {
    int32_t s = check_range(buffer, offset, bytes, host);
    if (s != SPECULA_OK) return s;
    if (buffer->host_ptr != nullptr) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "registered host memory is read-only to the device");
    char *dst = static_cast<char *>(buffer->device_ptr) + offset;
    cudaError_t e = stream == nullptr ? cudaMemcpy(dst, host, bytes, cudaMemcpyHostToDevice)
                                      : cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, stream->stream);
    e = finish_synchronous(e, stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaMemcpy (upload)");
}

extern "C" int32_t specula_buffer_download(const specula_buffer *buffer, uint64_t offset, void *host, uint64_t bytes,
                                           specula_stream *stream) {
    int32_t s = check_range(buffer, offset, bytes, host);
    if (s != SPECULA_OK) return s;
    const char *src = static_cast<const char *>(buffer->device_ptr) + offset;
    cudaError_t e = stream == nullptr ? cudaMemcpy(host, src, bytes, cudaMemcpyDeviceToHost)
                                      : cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, stream->stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaMemcpy (download)");
}

extern "C" int32_t specula_buffer_copy(specula_buffer *dst, uint64_t dst_offset, const specula_buffer *src,
                                       uint64_t src_offset, uint64_t bytes, specula_stream *stream) {
    SPECULA_NEED("specula_buffer_copy", stream, src, src_offset, bytes, 1, "source");
    SPECULA_NEED("specula_buffer_copy", stream, dst, dst_offset, bytes, 1, "destination");
    if (dst->host_ptr != nullptr) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "specula_buffer_copy: registered host memory is read-only to the device");
    if (bytes == 0) return SPECULA_OK;
    char *to = specula_at<char>(dst, dst_offset);
    const char *from = specula_at<const char>(src, src_offset);
    cudaError_t e = stream == nullptr ? cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToDevice)
                                      : cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, stream->stream);
    e = finish_synchronous(e, stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaMemcpy (device to device)");
}

extern "C" int32_t specula_buffer_fill(specula_buffer *buffer, uint64_t offset, uint64_t bytes, int32_t value,
                                       specula_stream *stream) {
    SPECULA_NEED("specula_buffer_fill", stream, buffer, offset, bytes, 1, "buffer");
    if (value < 0 || value > 255) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_buffer_fill: value %d is not a byte", value);
    if (buffer->host_ptr != nullptr) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "specula_buffer_fill: registered host memory is read-only to the device");
    if (bytes == 0) return SPECULA_OK;
    char *p = specula_at<char>(buffer, offset);
    cudaError_t e = stream == nullptr ? cudaMemset(p, value, bytes) : cudaMemsetAsync(p, value, bytes, stream->stream);
    e = finish_synchronous(e, stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaMemset");
}

// ---- events --------------------------------------------------------------------------------

extern "C" int32_t specula_event_create(int32_t device, specula_event **event) {
    if (event == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "event is NULL");
    *event = nullptr;
    int32_t s = check_device(device);
    if (s != SPECULA_OK) return s;
    auto *ev = new (std::nothrow) specula_event{device, nullptr};
    if (ev == nullptr) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for an event");
    cudaError_t e = cudaEventCreate(&ev->event);
    if (e != cudaSuccess) {
        delete ev;
        return cuda_fail(e, "cudaEventCreate");
    }
    *event = ev;
    return SPECULA_OK;
}

extern "C" int32_t specula_event_record(specula_event *event, specula_stream *stream) {
    if (event == nullptr || stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_event_record: event or stream is NULL");
    if (event->device != stream->device) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_event_record: event of device %d on a stream of device %d", event->device, stream->device);
    cudaError_t e = cudaEventRecord(event->event, stream->stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaEventRecord");
}

extern "C" int32_t specula_event_elapsed(const specula_event *start, const specula_event *end, float *milliseconds) {
    if (start == nullptr || end == nullptr || milliseconds == nullptr) {
        return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_event_elapsed: start, end or milliseconds is NULL");
    }
    cudaError_t e = cudaEventSynchronize(end->event);
    if (e != cudaSuccess) return cuda_fail(e, "cudaEventSynchronize");
    e = cudaEventElapsedTime(milliseconds, start->event, end->event);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaEventElapsedTime");
}

extern "C" int32_t specula_event_destroy(specula_event *event) {
    if (event == nullptr) return SPECULA_OK;
    cudaSetDevice(event->device);
    cudaError_t e = cudaEventDestroy(event->event);
    delete event;
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaEventDestroy");
}

// ---- sticky kernel errors ------------------------------------------------------------------

extern "C" int32_t specula_kernel_errors(int32_t device, int32_t *errors) {
    if (errors == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_kernel_errors: errors is NULL");
    *errors = 0;
    int32_t s = check_device(device);
    if (s != SPECULA_OK) return s;
    unsigned int *word = specula_cuda_error_word(device);
    if (word == nullptr) return SPECULA_OK;  // no stream yet, so no kernel has run
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return cuda_fail(e, "cudaDeviceSynchronize");
    unsigned int bits = 0;
    e = cudaMemcpy(&bits, word, sizeof bits, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) return cuda_fail(e, "cudaMemcpy (kernel error word)");
    e = cudaMemset(word, 0, sizeof bits);
    if (e == cudaSuccess) e = cudaStreamSynchronize(nullptr);  // cleared before any later kernel can set a bit
    if (e != cudaSuccess) return cuda_fail(e, "cudaMemset (kernel error word)");
    *errors = (int32_t)bits;
    return SPECULA_OK;
}

// ---- graphs --------------------------------------------------------------------------------

extern "C" int32_t specula_graph_begin(specula_stream *stream) {
    if (stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_graph_begin: stream is NULL");
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    cudaError_t e = cudaStreamIsCapturing(stream->stream, &status);
    if (e != cudaSuccess) return cuda_fail(e, "cudaStreamIsCapturing");
    if (status != cudaStreamCaptureStatusNone) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_graph_begin: the stream is already recording");
    // Relaxed: the split-K attention may allocate its scratch while the step is being recorded.
    e = cudaStreamBeginCapture(stream->stream, cudaStreamCaptureModeRelaxed);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaStreamBeginCapture");
}

extern "C" int32_t specula_graph_end(specula_stream *stream, specula_graph **graph) {
    if (stream == nullptr || graph == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_graph_end: stream or graph is NULL");
    *graph = nullptr;
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    cudaError_t e = cudaStreamIsCapturing(stream->stream, &status);
    if (e != cudaSuccess) return cuda_fail(e, "cudaStreamIsCapturing");
    if (status == cudaStreamCaptureStatusNone) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_graph_end: the stream is not recording");
    cudaGraph_t g = nullptr;
    e = cudaStreamEndCapture(stream->stream, &g);
    if (e != cudaSuccess) {
        if (g != nullptr) cudaGraphDestroy(g);
        return cuda_fail(e, "cudaStreamEndCapture (a call during recording was not allowed)");
    }
    cudaGraphExec_t exec = nullptr;
    e = cudaGraphInstantiateWithFlags(&exec, g, 0);  // this form exists from CUDA 11.4 (JetPack 5) to 13
    if (e != cudaSuccess) {
        cudaGraphDestroy(g);
        return cuda_fail(e, "cudaGraphInstantiateWithFlags");
    }
    auto *gr = new (std::nothrow) specula_graph{stream->device, g, exec};
    if (gr == nullptr) {
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(g);
        return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a graph");
    }
    *graph = gr;
    return SPECULA_OK;
}

extern "C" int32_t specula_graph_launch(specula_graph *graph, specula_stream *stream) {
    if (graph == nullptr || stream == nullptr) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_graph_launch: graph or stream is NULL");
    if (graph->device != stream->device) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "specula_graph_launch: graph of device %d on a stream of device %d", graph->device, stream->device);
    cudaError_t e = cudaGraphLaunch(graph->exec, stream->stream);
    return e == cudaSuccess ? SPECULA_OK : cuda_fail(e, "cudaGraphLaunch");
}

extern "C" int32_t specula_graph_destroy(specula_graph *graph) {
    if (graph == nullptr) return SPECULA_OK;
    cudaSetDevice(graph->device);
    cudaError_t e = cudaGraphExecDestroy(graph->exec);
    cudaError_t e2 = cudaGraphDestroy(graph->graph);
    delete graph;
    if (e != cudaSuccess) return cuda_fail(e, "cudaGraphExecDestroy");
    return e2 == cudaSuccess ? SPECULA_OK : cuda_fail(e2, "cudaGraphDestroy");
}
