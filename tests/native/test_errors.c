/* Checks the shared error/version part of the ABI. */
#include "specula.h"
#include "specula_internal.h"

#include <stdio.h>
#include <string.h>

static int checks = 0, failures = 0;
#define CHECK(cond) do { checks++; if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

int main(void) {
    CHECK(specula_abi_version() == SPECULA_ABI_VERSION);
    CHECK(strcmp(specula_last_error(), "") == 0);
    CHECK(specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "tensor '%s' has %d dims", "blk.0.attn_q.weight", 5)
          == SPECULA_ERROR_INVALID_ARGUMENT);
    CHECK(strcmp(specula_last_error(), "tensor 'blk.0.attn_q.weight' has 5 dims") == 0);
    char big[2 * SPECULA_ERROR_CAPACITY];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    specula_fail(SPECULA_ERROR_BACKEND, "%s", big);
    CHECK(strlen(specula_last_error()) == SPECULA_ERROR_CAPACITY - 1);
    specula_clear_error();
    CHECK(strcmp(specula_last_error(), "") == 0);
    CHECK(strcmp(specula_status_name(SPECULA_OK), "SPECULA_OK") == 0);
    CHECK(strcmp(specula_status_name(12345), "SPECULA_ERROR_UNKNOWN") == 0);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
