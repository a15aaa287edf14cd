/* Versioning and per-thread error reporting shared by every backend library. */
#include "specula.h"
#include "specula_internal.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[SPECULA_ERROR_CAPACITY];

int32_t specula_abi_version(void) { return SPECULA_ABI_VERSION; }

const char *specula_last_error(void) { return last_error; }

const char *specula_status_name(int32_t status) {
    switch (status) {
    case SPECULA_OK: return "SPECULA_OK";
    case SPECULA_ERROR_INVALID_ARGUMENT: return "SPECULA_ERROR_INVALID_ARGUMENT";
    case SPECULA_ERROR_OUT_OF_MEMORY: return "SPECULA_ERROR_OUT_OF_MEMORY";
    case SPECULA_ERROR_NO_DEVICE: return "SPECULA_ERROR_NO_DEVICE";
    case SPECULA_ERROR_UNSUPPORTED: return "SPECULA_ERROR_UNSUPPORTED";
    case SPECULA_ERROR_BACKEND: return "SPECULA_ERROR_BACKEND";
    default: return "SPECULA_ERROR_UNKNOWN";
    }
}

int32_t specula_fail(int32_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void specula_clear_error(void) { last_error[0] = '\0'; }
