/*
 * specula.h — the one C ABI of Specula's native backends.
 *
 * Plain C, ready for jextract: opaque handles, fixed-width integers, status codes with
 * specula_last_error(), no macros that hide types, no varargs, no bit-fields, structs by pointer.
 * Every function returns a specula_status (0 = SPECULA_OK) unless it says otherwise; on failure
 * specula_last_error() holds a one-line message. This version holds versioning and errors (every
 * backend), and devices, buffers and streams (libspecula_cuda); the kernel entry points follow.
 */
#ifndef SPECULA_H
#define SPECULA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes: major * 10000 + minor * 100 + patch. */
enum { SPECULA_ABI_VERSION = 100 };

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
 * and mapped); the buffer aliases it. For weights on integrated GPUs, where memory is shared. */
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

#ifdef __cplusplus
}
#endif

#endif /* SPECULA_H */
