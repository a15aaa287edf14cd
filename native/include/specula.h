/*
 * specula.h — the one C ABI of Specula's native backends.
 *
 * Plain C, ready for jextract: opaque handles, fixed-width integers, status codes with
 * specula_last_error(), no macros that hide types, no varargs, no bit-fields, structs by pointer.
 * This first version holds the part every backend shares (versioning and errors); the device,
 * buffer, stream and kernel entry points are added with the CUDA backend.
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

#ifdef __cplusplus
}
#endif

#endif /* SPECULA_H */
