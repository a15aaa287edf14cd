/* Helpers shared by the backend implementations; not part of the public ABI. */
#ifndef SPECULA_INTERNAL_H
#define SPECULA_INTERNAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes kept for specula_last_error(), NUL included; longer messages are truncated. */
enum { SPECULA_ERROR_CAPACITY = 512 };

#if defined(__GNUC__)
#define SPECULA_INTERNAL __attribute__((visibility("hidden")))
#else
#define SPECULA_INTERNAL
#endif

/* Records a printf-style message as this thread's last error and returns status. */
SPECULA_INTERNAL int32_t specula_fail(int32_t status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

SPECULA_INTERNAL void specula_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif
