/* libspecula_cuda's devices, streams and buffers. Runs everywhere: without a GPU (or driver) it
 * checks that the library loads, reports no device and refuses allocations with a clear message;
 * with one it round-trips data through device memory and registered host memory. */
#include "specula.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

int main(void) {
    CHECK(specula_abi_version() == SPECULA_ABI_VERSION, "ABI version %d", specula_abi_version());
    int32_t count = -1;
    CHECK(specula_device_count(&count) == SPECULA_OK, "device count: %s", specula_last_error());
    CHECK(count >= 0, "count %d", count);
    printf("devices: %d%s%s\n", count, count == 0 ? " — " : "", count == 0 ? specula_last_error() : "");
    CHECK(specula_device_count(NULL) == SPECULA_ERROR_INVALID_ARGUMENT, "NULL count accepted");

    specula_buffer *b = NULL;
    specula_stream *s = NULL;
    if (count == 0) {
        int32_t st = specula_buffer_alloc(0, 1024, &b);
        CHECK(st == SPECULA_ERROR_NO_DEVICE || st == SPECULA_ERROR_INVALID_ARGUMENT, "alloc without a device: %d", st);
        CHECK(b == NULL, "buffer set on failure");
        CHECK(strlen(specula_last_error()) > 0, "no message");
        CHECK(specula_stream_create(0, &s) != SPECULA_OK && s == NULL, "stream without a device");
        CHECK(specula_buffer_free(NULL) == SPECULA_OK, "free(NULL)");
        return failures == 0 ? 0 : 1;
    }

    specula_device_info info;
    CHECK(specula_device_get_info(0, &info) == SPECULA_OK, "info: %s", specula_last_error());
    printf("device 0: %s, sm_%d%d, %llu MiB, %s\n", info.name, info.compute_major, info.compute_minor,
           (unsigned long long)(info.total_memory >> 20), info.integrated ? "integrated" : "discrete");
    CHECK(specula_device_get_info(count, &info) == SPECULA_ERROR_INVALID_ARGUMENT, "device past the end accepted");

    enum { N = 1 << 20 };
    unsigned char *src = malloc(N), *dst = malloc(N);
    for (int i = 0; i < N; i++) src[i] = (unsigned char)(i * 131 + 7);
    CHECK(specula_stream_create(0, &s) == SPECULA_OK, "stream: %s", specula_last_error());
    CHECK(specula_buffer_alloc(0, N, &b) == SPECULA_OK, "alloc: %s", specula_last_error());
    CHECK(specula_buffer_size(b) == N, "size");
    CHECK(specula_buffer_upload(b, 0, src, N, s) == SPECULA_OK, "upload: %s", specula_last_error());
    CHECK(specula_buffer_download(b, 0, dst, N, s) == SPECULA_OK, "download: %s", specula_last_error());
    CHECK(specula_stream_synchronize(s) == SPECULA_OK, "sync: %s", specula_last_error());
    CHECK(memcmp(src, dst, N) == 0, "round trip differs");
    CHECK(specula_buffer_upload(b, N - 10, src, 20, NULL) == SPECULA_ERROR_INVALID_ARGUMENT, "overrun accepted");
    CHECK(specula_buffer_free(b) == SPECULA_OK, "free: %s", specula_last_error());

    if (info.can_map_host_memory) {
        specula_buffer *r = NULL;
        CHECK(specula_buffer_register_host(0, src, N, &r) == SPECULA_OK, "register: %s", specula_last_error());
        memset(dst, 0, N);
        CHECK(specula_buffer_download(r, 0, dst, N, NULL) == SPECULA_OK, "download registered: %s", specula_last_error());
        CHECK(memcmp(src, dst, N) == 0, "registered memory differs");
        CHECK(specula_buffer_free(r) == SPECULA_OK, "unregister: %s", specula_last_error());
    }
    CHECK(specula_stream_destroy(s) == SPECULA_OK, "destroy: %s", specula_last_error());
    free(src);
    free(dst);
    return failures == 0 ? 0 : 1;
}
