// Devices, streams and buffers of specula.h on the CUDA runtime.
#include "specula.h"
#include "specula_internal.h"

#include <cuda_runtime.h>
#include <cstdio>
#include <cstring>
#include <new>

struct specula_stream {
    int32_t device;
    cudaStream_t stream;
};

struct specula_buffer {
    int32_t device;
    void *device_ptr;   // what kernels read and write
    void *host_ptr;     // registered host memory, or nullptr for device memory
    uint64_t bytes;
};

namespace {

int32_t cuda_fail(cudaError_t e, const char *what) {
    int32_t status = e == cudaErrorMemoryAllocation ? SPECULA_ERROR_OUT_OF_MEMORY
                     : (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver) ? SPECULA_ERROR_NO_DEVICE
                     : e == cudaErrorInvalidDevice ? SPECULA_ERROR_INVALID_ARGUMENT
                     : SPECULA_ERROR_BACKEND;
    cudaGetLastError();  // clear the sticky-free error state the call left
    return specula_fail(status, "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

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

}  // namespace

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
    auto *st = new (std::nothrow) specula_stream{device, nullptr};
    if (st == nullptr) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a stream");
    cudaError_t e = cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) {
        delete st;
        return cuda_fail(e, "cudaStreamCreateWithFlags");
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
