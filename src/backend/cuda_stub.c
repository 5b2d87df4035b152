/* cuda_stub.c - the CUDA entry point of a CPU=1 build: no CUDA backend. */
#include <stdio.h>

#include "ddpg/backend.h"

Backend *backend_cuda_create(char *err, size_t errlen) {
    snprintf(err, errlen, "this binary was built without CUDA (make CPU=1)");
    return NULL;
}
