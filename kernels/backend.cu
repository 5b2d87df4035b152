/* backend.cu - the CUDA backend: device, streams and cuBLAS handles, memory,
 * CUDA Graph capture, and the Backend table over the kernel families
 * (dense.cu, loss.cu, optim.cu, random.cu, env.cu, replay.cu) and the
 * update schedule (update.cu). The mirror of src/backend/cpu/backend.c.
 *
 * Ops are enqueued on the main stream, non-blocking, or where the update
 * schedule puts them, on the side stream, forked from and joined back into
 * main with events (cuda_on_side, cuda_join_side). Only to_device, to_host
 * and sync wait. Nothing else syncs the host or allocates, so a training
 * iteration can be captured once as a CUDA Graph and replayed. */
#include <string.h>

#include "cuda_common.h"

/* ---- memory ---- */

/* Zeroed device memory, or NULL when the device is out of memory (the caller
 * reports what it was for and how big). */
static void *cuda_alloc(Backend *be, size_t bytes) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); /* clear it: the process goes on */
        return NULL;
    }
    cudaCheck(e);
    /* on the stream, so that it is ordered before every later op */
    cudaCheck(cudaMemsetAsync(p, 0, bytes ? bytes : 1, cuda_stream(be)));
    return p;
}

static size_t cuda_mem_available(Backend *be) {
    (void)be;
    size_t free_bytes = 0, total = 0;
    cudaCheck(cudaMemGetInfo(&free_bytes, &total));
    return free_bytes;
}

static void cuda_free(Backend *be, void *p) {
    (void)be;
    if (p) cudaCheck(cudaFree(p));
}

/* Waits, so that the host buffer may be reused at once (as on the CPU). */
static void cuda_to_device(Backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cuda_stream(be)));
    cudaCheck(cudaStreamSynchronize(cuda_stream(be)));
}

static void cuda_to_host(Backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(be)));
    cudaCheck(cudaStreamSynchronize(cuda_stream(be)));
}

static void cuda_copy(Backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda_stream(be)));
}

static void cuda_sync(Backend *be) { cudaCheck(cudaStreamSynchronize(cuda_stream(be))); }

/* Pinned, zeroed host memory (to_host_async needs it to be truly async). */
static void *cuda_host_alloc(Backend *be, size_t bytes) {
    (void)be;
    void *p = NULL;
    cudaError_t e = cudaMallocHost(&p, bytes ? bytes : 1);
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        return NULL;
    }
    cudaCheck(e);
    memset(p, 0, bytes ? bytes : 1);
    return p;
}

static void cuda_host_free(Backend *be, void *p) {
    (void)be;
    if (p) cudaCheck(cudaFreeHost(p));
}

static void cuda_to_host_async(Backend *be, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return;
    cudaCheck(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, cuda_stream(be)));
}

/* ---- CUDA Graphs ---- */

/* Thread-local mode: an unsafe call (a sync, an allocation) from this thread
 * during capture fails instead of silently running outside the graph. */
static int cuda_capture_begin(Backend *be) {
    cudaError_t e = cudaStreamBeginCapture(cuda_stream(be), cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        fprintf(stderr, "warning: cuda: graph capture not started: %s\n", cudaGetErrorString(e));
        return -1;
    }
    return 0;
}

/* Ends the capture and instantiates it; 0 and *graph_exec on success. */
static int cuda_capture_end(Backend *be, void **graph_exec) {
    *graph_exec = NULL;
    cudaGraph_t graph = NULL;
    cudaError_t e = cudaStreamEndCapture(cuda_stream(be), &graph);
    if (e != cudaSuccess || !graph) {
        (void)cudaGetLastError();
        fprintf(stderr, "warning: cuda: graph capture failed: %s\n", cudaGetErrorString(e));
        if (graph) cudaGraphDestroy(graph);
        return -1;
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, graph, 0);
    cudaCheck(cudaGraphDestroy(graph));
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        fprintf(stderr, "warning: cuda: graph instantiation failed: %s\n",
                cudaGetErrorString(e));
        return -1;
    }
    *graph_exec = (void *)exec;
    return 0;
}

static void cuda_graph_launch(Backend *be, void *graph_exec) {
    cudaCheck(cudaGraphLaunch((cudaGraphExec_t)graph_exec, cuda_stream(be)));
}

static void cuda_graph_destroy(Backend *be, void *graph_exec) {
    (void)be;
    if (graph_exec) cudaCheck(cudaGraphExecDestroy((cudaGraphExec_t)graph_exec));
}

/* ---- creation ---- */

/* Launches nothing: its attributes tell whether this binary has code for the
 * device (every .cu file is built for the same architectures). */
__global__ void arch_probe_kernel() {}

static void cuda_destroy(Backend *be) {
    if (!be) return;
    CudaImpl *c = cuda_impl(be);
    if (c) {
        if (c->s[CUDA_MAIN].stream) cudaCheck(cudaDeviceSynchronize());
        for (int i = 0; i < CUDA_STREAMS; i++) {
            CudaStreamCtx *x = &c->s[i];
            if (x->cublas) cublasCheck(cublasDestroy(x->cublas));
            if (x->cublas_ws) cudaCheck(cudaFree(x->cublas_ws));
            if (x->partials) cudaCheck(cudaFree(x->partials));
            if (x->scalars) cudaCheck(cudaFree(x->scalars));
            if (x->mark) cudaCheck(cudaEventDestroy(x->mark));
            if (x->stream) cudaCheck(cudaStreamDestroy(x->stream));
        }
        if (c->lt) cublasCheck(cublasLtDestroy(c->lt));
        free(c);
    }
    free(be);
}

/* ---- two streams ---- */

/* A stream waits for the other's work so far: an event recorded on `from`
 * and waited for on `to`, which a capture records as a graph edge. One
 * event per stream serves every fork and join: a wait takes the event's
 * record as it stands when the wait is enqueued. */
static void stream_wait(CudaImpl *c, int to, int from) {
    cudaCheck(cudaEventRecord(c->s[from].mark, c->s[from].stream));
    cudaCheck(cudaStreamWaitEvent(c->s[to].stream, c->s[from].mark, 0));
}

static void expect_stream(const CudaImpl *c, int want, const char *op) {
    if (c->cur != want) {
        fprintf(stderr, "cuda: %s called on the %s stream\n", op,
                c->cur == CUDA_MAIN ? "main" : "side");
        exit(EXIT_FAILURE);
    }
}

void cuda_on_side(Backend *be) {
    CudaImpl *c = cuda_impl(be);
    expect_stream(c, CUDA_MAIN, "cuda_on_side");
    stream_wait(c, CUDA_SIDE, CUDA_MAIN);
    c->cur = CUDA_SIDE;
}

void cuda_on_main(Backend *be) { cuda_impl(be)->cur = CUDA_MAIN; }

void cuda_join_side(Backend *be) {
    CudaImpl *c = cuda_impl(be);
    expect_stream(c, CUDA_MAIN, "cuda_join_side");
    stream_wait(c, CUDA_MAIN, CUDA_SIDE);
}

static void fill_table(Backend *be) {
    be->name = "cuda";
    be->destroy = cuda_destroy;
    be->mem_available = cuda_mem_available;
    be->shares_host_memory = 0;
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->to_device = cuda_to_device;
    be->to_host = cuda_to_host;
    be->copy = cuda_copy;
    be->sync = cuda_sync;
    be->host_alloc = cuda_host_alloc;
    be->host_free = cuda_host_free;
    be->to_host_async = cuda_to_host_async;
#define SET_OP(op) be->op = cuda_##op;
    BACKEND_COMPUTE_OPS(SET_OP)
#undef SET_OP
    be->schedule = &CUDA_DDPG_SCHEDULE;
    be->capture_begin = cuda_capture_begin;
    be->capture_end = cuda_capture_end;
    be->graph_launch = cuda_graph_launch;
    be->graph_destroy = cuda_graph_destroy;
}

static void set_err(char *err, size_t errlen, const char *what, const char *why) {
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, why);
}

/* One stream's context: the stream, its event, its scratch and its cuBLAS
 * handle on a fixed workspace. 0; else 1 (a CUDA call failed, *e) or 2 (a
 * cuBLAS call, *s), with the call's name in *what. */
static int stream_ctx_create(CudaStreamCtx *x, const char **what, cudaError_t *e,
                             cublasStatus_t *s) {
    *what = "cudaStreamCreateWithFlags";
    if ((*e = cudaStreamCreateWithFlags(&x->stream, cudaStreamNonBlocking)) != cudaSuccess)
        return 1;
    *what = "cudaEventCreateWithFlags";
    if ((*e = cudaEventCreateWithFlags(&x->mark, cudaEventDisableTiming)) != cudaSuccess)
        return 1;
    *what = "cudaMalloc of the backend's scratch";
    if ((*e = cudaMalloc(&x->cublas_ws, CUBLAS_WS_BYTES)) != cudaSuccess ||
        (*e = cudaMalloc(&x->partials, sizeof(double) * NORM_MAX_BLOCKS)) != cudaSuccess ||
        (*e = cudaMalloc(&x->scalars, sizeof(float) * SCALAR_COUNT)) != cudaSuccess ||
        (*e = cudaMemsetAsync(x->scalars, 0, sizeof(float) * SCALAR_COUNT, x->stream)) !=
            cudaSuccess)
        return 1;
    *what = "cublasCreate";
    if ((*s = cublasCreate(&x->cublas)) != CUBLAS_STATUS_SUCCESS) return 2;
    /* cublasSetStream resets the workspace to cuBLAS's own pool: set it after.
     * A fixed workspace is what makes cuBLAS capturable in a CUDA Graph. */
    *what = "cublasSetStream";
    if ((*s = cublasSetStream(x->cublas, x->stream)) != CUBLAS_STATUS_SUCCESS) return 2;
    *what = "cublasSetWorkspace";
    if ((*s = cublasSetWorkspace(x->cublas, x->cublas_ws, CUBLAS_WS_BYTES)) !=
        CUBLAS_STATUS_SUCCESS)
        return 2;
    /* default math: FP32 GEMMs stay FP32 (no TF32), for parity with the CPU */
    *what = "cublasSetMathMode";
    if ((*s = cublasSetMathMode(x->cublas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS)
        return 2;
    return 0;
}

/* Any failure here (no device, old driver, device busy or out of memory)
 * returns NULL with the reason, so the caller can fall back to the CPU. */
extern "C" Backend *backend_cuda_create(char *err, size_t errlen) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        set_err(err, errlen, "no CUDA device",
                e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices");
        return NULL;
    }
    Backend *be = (Backend *)calloc(1, sizeof *be);
    CudaImpl *c = (CudaImpl *)calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        set_err(err, errlen, "CUDA backend", "out of host memory");
        return NULL;
    }
    be->impl = c;
    cudaDeviceProp prop;
    cublasStatus_t s = CUBLAS_STATUS_SUCCESS;
    const char *what = "cudaSetDevice";
    if ((e = cudaSetDevice(0)) != cudaSuccess) goto cuda_fail;
    what = "cudaGetDeviceProperties";
    if ((e = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) goto cuda_fail;
    snprintf(be->device_name, sizeof be->device_name, "%.127s", prop.name);
    c->max_blocks = prop.multiProcessorCount * 32;
    {
        cudaFuncAttributes fa;
        if ((e = cudaFuncGetAttributes(&fa, arch_probe_kernel)) != cudaSuccess) {
            (void)cudaGetLastError();
            char why[256];
            snprintf(why, sizeof why, "%s (sm_%d%d); rebuild with NVCC_ARCH for it",
                     cudaGetErrorString(e), prop.major, prop.minor);
            set_err(err, errlen, "no kernels for this GPU", why);
            cuda_destroy(be);
            return NULL;
        }
    }
    for (int i = 0; i < CUDA_STREAMS; i++) {
        int failed = stream_ctx_create(&c->s[i], &what, &e, &s);
        if (failed == 1) goto cuda_fail;
        if (failed == 2) goto cublas_fail;
    }
    what = "cublasLtCreate";
    if ((s = cublasLtCreate(&c->lt)) != CUBLAS_STATUS_SUCCESS) goto cublas_fail;
    /* the side stream's scratch zeroing is done before any op on the main stream */
    what = "cudaDeviceSynchronize";
    if ((e = cudaDeviceSynchronize()) != cudaSuccess) goto cuda_fail;
    fill_table(be);
    return be;

cuda_fail:
    (void)cudaGetLastError();
    set_err(err, errlen, what, cudaGetErrorString(e));
    cuda_destroy(be);
    return NULL;
cublas_fail:
    set_err(err, errlen, what, cublasGetStatusString(s));
    cuda_destroy(be);
    return NULL;
}
