// specula.h on Metal (Apple Silicon): devices, buffers, streams, events, graphs and the kernel
// entry points. Compiled with ARC. The argument checks and launch shapes live in metal_plan.c
// (plain C, tested on every platform), the kernel entry points that make plans in metal_abi.c;
// this file turns a plan into Metal commands (specula_metal_submit).
//
// Streams: a stream is an MTLCommandQueue plus the command buffer being filled; kernels are
// encoded into a serial compute encoder (each dispatch sees the previous one's writes), and the
// command buffer is committed every SPECULA_METAL_COMMIT_EVERY dispatches, at a synchronisation,
// an event or a download. Buffers are shared-storage MTLBuffers: Apple Silicon memory is unified.
//
// Graphs: recording keeps a copy of each plan step (kernel, grid, bindings, argument bytes);
// a launch re-encodes the list on the launching stream. No launch per op crosses from Java, and
// positions are read from device memory by the kernels, so one recording serves every token.
// (An MTLIndirectCommandBuffer would also skip the CPU-side encoding, but it cannot carry
// setBytes arguments or mix blits with dispatches; re-encoding a recorded list costs a few
// microseconds of CPU per dispatch and keeps one code path. Buffers must outlive the graphs
// that use them, as with CUDA graphs.)
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include <mach/vm_page_size.h>
#include <stdlib.h>
#include <string.h>

#include "specula.h"
#include "specula_internal.h"
#include "metal_plan.h"

#if !__has_feature(objc_arc)
#error "metal_runtime.m is written for ARC (-fobjc-arc)"
#endif

// The kernels, compiled by CMake (xcrun metal + metallib) and embedded by specula_metallib.c.
extern const unsigned char specula_metallib[];
extern const unsigned long long specula_metallib_size;

enum { SPECULA_METAL_COMMIT_EVERY = 64 };

// ---- objects behind the opaque handles ----------------------------------------------------

@interface SPDevice : NSObject
@property(nonatomic, strong) id<MTLDevice> device;
@property(nonatomic, strong) id<MTLLibrary> library;
@property(nonatomic, strong) NSMutableDictionary<NSString *, id<MTLComputePipelineState>> *pipelines;
@property(nonatomic, strong) id<MTLBuffer> errors;  // one uint32 of SPECULA_KERNEL_ERROR_* bits
@property(nonatomic, strong) NSHashTable *streams;  // weak: the device's live streams
@end
@implementation SPDevice
@end

@interface SPGraph : NSObject
@property(nonatomic, strong) NSMutableArray<NSData *> *steps;  // each one specula_metal_step
@property(nonatomic) uint64_t scratchBytes;
@end
@implementation SPGraph
@end

@interface SPDownload : NSObject
@property(nonatomic, strong) id<MTLBuffer> staging;
@property(nonatomic) void *host;
@property(nonatomic) uint64_t bytes;
@end
@implementation SPDownload
@end

@interface SPStream : NSObject
@property(nonatomic) int32_t index;
@property(nonatomic, strong) SPDevice *dev;
@property(nonatomic, strong) id<MTLCommandQueue> queue;
@property(nonatomic, strong) id<MTLCommandBuffer> cmd;  // being filled, not committed
@property(nonatomic, strong) id<MTLComputeCommandEncoder> compute;
@property(nonatomic, strong) id<MTLBlitCommandEncoder> blit;
@property(nonatomic, strong) id<MTLCommandBuffer> last;  // the last committed
@property(nonatomic) NSUInteger queued;
@property(nonatomic, strong) id<MTLBuffer> scratch;  // flash-attention decode partials
@property(nonatomic, strong) NSMutableArray<SPDownload *> *downloads;  // finished at synchronisation
@property(nonatomic, strong) SPGraph *recording;
@property(atomic, copy) NSString *failure;  // a command buffer's error, reported at synchronisation
@end
@implementation SPStream
@end

@interface SPEvent : NSObject
@property(nonatomic, strong) id<MTLCommandBuffer> cmd;  // the last command buffer committed before the mark
@end
@implementation SPEvent
@end

// ---- devices -------------------------------------------------------------------------------

static NSArray<SPDevice *> *all_devices(void) {
    static NSArray<SPDevice *> *devices;
    static dispatch_once_t once;
    dispatch_once(&once, ^{
        NSMutableArray<SPDevice *> *out = [NSMutableArray array];
        for (id<MTLDevice> d in MTLCopyAllDevices()) {
            // simdgroup matrices (GEMM, FlashAttention) need an Apple7 GPU (M1) or newer.
            if (![d supportsFamily:MTLGPUFamilyApple7]) continue;
            SPDevice *dev = [SPDevice new];
            dev.device = d;
            dev.pipelines = [NSMutableDictionary dictionary];
            dev.streams = [NSHashTable weakObjectsHashTable];
            dev.errors = [d newBufferWithLength:4 options:MTLResourceStorageModeShared];
            memset(dev.errors.contents, 0, 4);
            [out addObject:dev];
        }
        devices = out;
    });
    return devices;
}

static SPDevice *device_at(int32_t index, int32_t *status) {
    NSArray<SPDevice *> *devices = all_devices();
    if (devices.count == 0) {
        *status = specula_fail(SPECULA_ERROR_NO_DEVICE, "no Metal device with simdgroup matrices (Apple7 / M1 or newer)");
        return nil;
    }
    if (index < 0 || (NSUInteger)index >= devices.count) {
        *status = specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "device %d does not exist (%lu devices)", index,
                               (unsigned long)devices.count);
        return nil;
    }
    *status = SPECULA_OK;
    return devices[(NSUInteger)index];
}

static int32_t fail_ns(int32_t status, const char *what, NSError *error) {
    return specula_fail(status, "%s: %s", what, error ? error.localizedDescription.UTF8String : "unknown Metal error");
}

static id<MTLComputePipelineState> pipeline(SPDevice *dev, const char *name, int32_t *status) {
    NSString *key = @(name);
    id<MTLComputePipelineState> p = dev.pipelines[key];
    if (p != nil) return p;
    NSError *error = nil;
    if (dev.library == nil) {
        dispatch_data_t data = dispatch_data_create(specula_metallib, (size_t)specula_metallib_size,
                                                     dispatch_get_global_queue(QOS_CLASS_DEFAULT, 0), ^{});  // static bytes: nothing to free
        dev.library = [dev.device newLibraryWithData:data error:&error];
        if (dev.library == nil) {
            *status = fail_ns(SPECULA_ERROR_BACKEND, "loading the embedded metallib", error);
            return nil;
        }
    }
    id<MTLFunction> f = [dev.library newFunctionWithName:key];
    if (f == nil) {
        *status = specula_fail(SPECULA_ERROR_BACKEND, "kernel %s is not in the metallib", name);
        return nil;
    }
    p = [dev.device newComputePipelineStateWithFunction:f error:&error];
    if (p == nil) {
        *status = fail_ns(SPECULA_ERROR_BACKEND, name, error);
        return nil;
    }
    dev.pipelines[key] = p;
    return p;
}

int32_t specula_device_count(int32_t *count) {
    if (count == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "count is NULL");
    @autoreleasepool {
        NSUInteger n = all_devices().count;
        *count = (int32_t)n;
        if (n == 0) specula_fail(SPECULA_ERROR_NO_DEVICE, "no Metal device with simdgroup matrices (Apple7 / M1 or newer)");
        else specula_clear_error();
        return SPECULA_OK;
    }
}

int32_t specula_device_get_info(int32_t device, specula_device_info *info) {
    if (info == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "info is NULL");
    @autoreleasepool {
        int32_t status;
        SPDevice *dev = device_at(device, &status);
        if (dev == nil) return status;
        id<MTLDevice> d = dev.device;
        memset(info, 0, sizeof *info);
        snprintf(info->name, sizeof info->name, "%s", d.name.UTF8String);
        info->total_memory = d.recommendedMaxWorkingSetSize;
        uint64_t used = d.currentAllocatedSize;
        info->free_memory = used < info->total_memory ? info->total_memory - used : 0;
        // "Compute capability": the newest Apple GPU family (7 = M1, 8 = M2, 9 = M3/M4), minor 0.
        for (int family = 12; family >= 7; family--) {
            if ([d supportsFamily:(MTLGPUFamily)(MTLGPUFamilyApple1 + family - 1)]) {
                info->compute_major = family;
                break;
            }
        }
        info->integrated = d.hasUnifiedMemory ? 1 : 0;
        info->multiprocessors = 0;  // Metal does not report GPU core counts
        info->can_map_host_memory = 1;
        specula_clear_error();
        return SPECULA_OK;
    }
}

// ---- streams -------------------------------------------------------------------------------

static SPStream *stream_of(specula_stream *s) { return (__bridge SPStream *)(void *)s; }

static void end_encoders(SPStream *s) {
    if (s.compute != nil) [s.compute endEncoding];
    if (s.blit != nil) [s.blit endEncoding];
    s.compute = nil;
    s.blit = nil;
}

static void commit(SPStream *s) {
    if (s.cmd == nil) return;
    end_encoders(s);
    __weak SPStream *weak = s;
    [s.cmd addCompletedHandler:^(id<MTLCommandBuffer> cb) {
        if (cb.status == MTLCommandBufferStatusError) weak.failure = cb.error.localizedDescription ?: @"command buffer failed";
    }];
    [s.cmd commit];
    s.last = s.cmd;
    s.cmd = nil;
    s.queued = 0;
}

static id<MTLCommandBuffer> open_cmd(SPStream *s) {
    if (s.cmd == nil) s.cmd = [s.queue commandBuffer];
    return s.cmd;
}

static id<MTLComputeCommandEncoder> compute_encoder(SPStream *s) {
    if (s.blit != nil) {
        [s.blit endEncoding];
        s.blit = nil;
    }
    if (s.compute == nil) s.compute = [open_cmd(s) computeCommandEncoder];  // serial dispatch
    return s.compute;
}

static id<MTLBlitCommandEncoder> blit_encoder(SPStream *s) {
    if (s.compute != nil) {
        [s.compute endEncoding];
        s.compute = nil;
    }
    if (s.blit == nil) s.blit = [open_cmd(s) blitCommandEncoder];
    return s.blit;
}

int32_t specula_stream_create(int32_t device, specula_stream **stream) {
    if (stream == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    *stream = NULL;
    @autoreleasepool {
        int32_t status;
        SPDevice *dev = device_at(device, &status);
        if (dev == nil) return status;
        SPStream *s = [SPStream new];
        s.index = device;
        s.dev = dev;
        s.queue = [dev.device newCommandQueue];
        if (s.queue == nil) return specula_fail(SPECULA_ERROR_BACKEND, "newCommandQueue failed");
        s.downloads = [NSMutableArray array];
        [dev.streams addObject:s];
        *stream = (__bridge_retained void *)s;
        return SPECULA_OK;
    }
}

static int32_t synchronize(SPStream *s) {
    commit(s);
    [s.last waitUntilCompleted];
    for (SPDownload *d in s.downloads) memcpy(d.host, d.staging.contents, (size_t)d.bytes);
    [s.downloads removeAllObjects];
    NSString *failure = s.failure;
    if (failure == nil && s.last.status == MTLCommandBufferStatusError) failure = s.last.error.localizedDescription ?: @"command buffer failed";
    if (failure != nil) {
        s.failure = nil;
        return specula_fail(SPECULA_ERROR_BACKEND, "Metal command buffer: %s", failure.UTF8String);
    }
    return SPECULA_OK;
}

int32_t specula_stream_synchronize(specula_stream *stream) {
    if (stream == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    @autoreleasepool {
        return synchronize(stream_of(stream));
    }
}

int32_t specula_stream_destroy(specula_stream *stream) {
    if (stream == NULL) return SPECULA_OK;
    @autoreleasepool {
        SPStream *s = CFBridgingRelease(stream);
        int32_t status = synchronize(s);
        [s.dev.streams removeObject:s];
        return status;
    }
}

// ---- running plans -------------------------------------------------------------------------

static id<MTLBuffer> mtl(const specula_buffer *b) { return (__bridge id<MTLBuffer>)b->mtl; }

static int32_t ensure_scratch(SPStream *s, uint64_t bytes) {
    if (bytes == 0 || (s.scratch != nil && s.scratch.length >= bytes)) return SPECULA_OK;
    s.scratch = [s.dev.device newBufferWithLength:(NSUInteger)bytes options:MTLResourceStorageModePrivate];
    if (s.scratch == nil) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no device memory for %llu bytes of scratch", (unsigned long long)bytes);
    return SPECULA_OK;
}

static int32_t run_step(SPStream *s, const specula_metal_step *st) {
    id<MTLBuffer> buffers[SPECULA_METAL_MAX_BINDINGS];
    for (int i = 0; i < st->n_bindings; i++) buffers[i] = st->bindings[i].scratch ? s.scratch : mtl(st->bindings[i].buffer);
    switch (st->kind) {
    case SPECULA_METAL_BLIT_COPY:
        [blit_encoder(s) copyFromBuffer:buffers[0] sourceOffset:(NSUInteger)st->bindings[0].offset toBuffer:buffers[1]
                      destinationOffset:(NSUInteger)st->bindings[1].offset size:(NSUInteger)st->blit_bytes];
        break;
    case SPECULA_METAL_BLIT_FILL:
        [blit_encoder(s) fillBuffer:buffers[0] range:NSMakeRange((NSUInteger)st->bindings[0].offset, (NSUInteger)st->blit_bytes)
                              value:(uint8_t)st->fill_value];
        break;
    default: {
        int32_t status;
        id<MTLComputePipelineState> p = pipeline(s.dev, st->kernel, &status);
        if (p == nil) return status;
        NSUInteger threads = st->threads[0] * st->threads[1] * st->threads[2];
        if (threads > p.maxTotalThreadsPerThreadgroup) {
            return specula_fail(SPECULA_ERROR_BACKEND, "kernel %s: %lu threads per threadgroup, the device allows %lu", st->kernel,
                                (unsigned long)threads, (unsigned long)p.maxTotalThreadsPerThreadgroup);
        }
        id<MTLComputeCommandEncoder> enc = compute_encoder(s);
        [enc setComputePipelineState:p];
        [enc setBytes:st->args length:st->args_bytes atIndex:SPECULA_METAL_ARGS_SLOT];
        for (int i = 0; i < st->n_bindings; i++) [enc setBuffer:buffers[i] offset:(NSUInteger)st->bindings[i].offset atIndex:(NSUInteger)(i + 1)];
        if (st->uses_errors) [enc setBuffer:s.dev.errors offset:0 atIndex:SPECULA_METAL_ERRORS_SLOT];
        [enc dispatchThreadgroups:MTLSizeMake(st->groups[0], st->groups[1], st->groups[2])
            threadsPerThreadgroup:MTLSizeMake(st->threads[0], st->threads[1], st->threads[2])];
    }
    }
    if (++s.queued >= SPECULA_METAL_COMMIT_EVERY) commit(s);
    return SPECULA_OK;
}

// Runs a plan on the stream, or appends it to the graph being recorded there (metal_plan.h; the
// kernel entry points of metal_abi.c call it with their plan).
int32_t specula_metal_submit(specula_stream *stream, const specula_metal_plan *plan) {
    if (stream == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    @autoreleasepool {
        SPStream *s = stream_of(stream);
        if (s.recording != nil) {
            for (int i = 0; i < plan->n_steps; i++) [s.recording.steps addObject:[NSData dataWithBytes:&plan->steps[i] length:sizeof plan->steps[i]]];
            if (plan->scratch_bytes > s.recording.scratchBytes) s.recording.scratchBytes = plan->scratch_bytes;
            return SPECULA_OK;
        }
        int32_t status = ensure_scratch(s, plan->scratch_bytes);
        for (int i = 0; status == SPECULA_OK && i < plan->n_steps; i++) status = run_step(s, &plan->steps[i]);
        return status;
    }
}

// ---- buffers -------------------------------------------------------------------------------

static specula_buffer *wrap(int32_t device, id<MTLBuffer> b, void *host, uint64_t bytes) {
    specula_buffer *out = calloc(1, sizeof *out);
    if (out == NULL) return NULL;
    out->device = device;
    out->mtl = (__bridge_retained void *)b;
    out->host = host;
    out->bytes = bytes;
    return out;
}

int32_t specula_buffer_alloc(int32_t device, uint64_t bytes, specula_buffer **buffer) {
    if (buffer == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "buffer is NULL");
    *buffer = NULL;
    if (bytes == 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "a buffer of 0 bytes");
    @autoreleasepool {
        int32_t status;
        SPDevice *dev = device_at(device, &status);
        if (dev == nil) return status;
        if (bytes > dev.device.maxBufferLength) {
            return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "%llu bytes is more than the device's largest buffer (%llu)",
                                (unsigned long long)bytes, (unsigned long long)dev.device.maxBufferLength);
        }
        id<MTLBuffer> b = [dev.device newBufferWithLength:(NSUInteger)bytes options:MTLResourceStorageModeShared];
        if (b == nil) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "newBufferWithLength: %llu bytes", (unsigned long long)bytes);
        *buffer = wrap(device, b, NULL, bytes);
        return *buffer != NULL ? SPECULA_OK : specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a buffer");
    }
}

int32_t specula_buffer_register_host(int32_t device, void *host, uint64_t bytes, specula_buffer **buffer) {
    if (buffer == NULL || host == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "host or buffer is NULL");
    *buffer = NULL;
    if (bytes == 0) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "registering 0 bytes");
    @autoreleasepool {
        int32_t status;
        SPDevice *dev = device_at(device, &status);
        if (dev == nil) return status;
        // newBufferWithBytesNoCopy wants a page-aligned start and a whole number of pages; an mmap'ed
        // file starts on a page and its last page is mapped whole, so the length is rounded up.
        uintptr_t page = (uintptr_t)vm_page_size;
        if ((uintptr_t)host % page != 0) {
            return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "host memory at %p does not start on a page (%lu bytes)", host,
                                (unsigned long)page);
        }
        uint64_t length = (bytes + page - 1) / page * page;
        id<MTLBuffer> b = [dev.device newBufferWithBytesNoCopy:host length:(NSUInteger)length
                                                       options:MTLResourceStorageModeShared deallocator:nil];
        if (b == nil) return specula_fail(SPECULA_ERROR_BACKEND, "newBufferWithBytesNoCopy: %llu bytes at %p", (unsigned long long)length, host);
        *buffer = wrap(device, b, host, bytes);
        return *buffer != NULL ? SPECULA_OK : specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no host memory for a buffer");
    }
}

int32_t specula_buffer_free(specula_buffer *buffer) {
    if (buffer == NULL) return SPECULA_OK;
    @autoreleasepool {
        id<MTLBuffer> b = CFBridgingRelease(buffer->mtl);  // the last reference unless a command still holds it
        (void)b;
        free(buffer);
        return SPECULA_OK;
    }
}

uint64_t specula_buffer_size(const specula_buffer *buffer) { return buffer == NULL ? 0 : buffer->bytes; }

int32_t specula_buffer_upload(specula_buffer *buffer, uint64_t offset, const void *host, uint64_t bytes, specula_stream *stream) {
    int32_t status = specula_metal_check_host_range(buffer, offset, bytes, host);
    if (status != SPECULA_OK) return status;
    if (buffer->host != NULL) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "registered host memory is read-only to the device");
    if (bytes == 0) return SPECULA_OK;
    @autoreleasepool {
        if (stream == NULL) {
            memcpy((char *)mtl(buffer).contents + offset, host, (size_t)bytes);
            return SPECULA_OK;
        }
        SPStream *s = stream_of(stream);
        if (s.recording != nil) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "uploads cannot be recorded into a graph");
        // In stream order: the bytes are staged now and copied when the stream gets there.
        id<MTLBuffer> staging = [s.dev.device newBufferWithBytes:host length:(NSUInteger)bytes options:MTLResourceStorageModeShared];
        if (staging == nil) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no memory to stage %llu bytes", (unsigned long long)bytes);
        specula_buffer src = {buffer->device, (__bridge void *)staging, NULL, bytes};
        specula_metal_plan plan;
        status = specula_metal_plan_copy(&plan, buffer, offset, &src, 0, bytes);
        return status == SPECULA_OK ? specula_metal_submit(stream, &plan) : status;
    }
}

int32_t specula_buffer_download(const specula_buffer *buffer, uint64_t offset, void *host, uint64_t bytes, specula_stream *stream) {
    int32_t status = specula_metal_check_host_range(buffer, offset, bytes, host);
    if (status != SPECULA_OK) return status;
    if (bytes == 0) return SPECULA_OK;
    @autoreleasepool {
        if (stream == NULL) {
            memcpy(host, (const char *)mtl(buffer).contents + offset, (size_t)bytes);
            return SPECULA_OK;
        }
        SPStream *s = stream_of(stream);
        if (s.recording != nil) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "downloads cannot be recorded into a graph");
        id<MTLBuffer> staging = [s.dev.device newBufferWithLength:(NSUInteger)bytes options:MTLResourceStorageModeShared];
        if (staging == nil) return specula_fail(SPECULA_ERROR_OUT_OF_MEMORY, "no memory to stage %llu bytes", (unsigned long long)bytes);
        specula_buffer dst = {buffer->device, (__bridge void *)staging, NULL, bytes};
        specula_metal_plan plan;
        status = specula_metal_plan_copy(&plan, &dst, 0, buffer, offset, bytes);
        if (status == SPECULA_OK) status = specula_metal_submit(stream, &plan);
        if (status != SPECULA_OK) return status;
        SPDownload *d = [SPDownload new];
        d.staging = staging;
        d.host = host;
        d.bytes = bytes;
        [s.downloads addObject:d];
        return SPECULA_OK;
    }
}

// ---- events --------------------------------------------------------------------------------

int32_t specula_event_create(int32_t device, specula_event **event) {
    if (event == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "event is NULL");
    *event = NULL;
    @autoreleasepool {
        int32_t status;
        if (device_at(device, &status) == nil) return status;
        *event = (__bridge_retained void *)[SPEvent new];
        return SPECULA_OK;
    }
}

// The mark is the end of the command buffer committed here: Metal times command buffers, not
// points inside one, so recording an event closes the stream's current command buffer.
int32_t specula_event_record(specula_event *event, specula_stream *stream) {
    if (event == NULL || stream == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "event or stream is NULL");
    @autoreleasepool {
        SPStream *s = stream_of(stream);
        if (s.recording != nil) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "events cannot be recorded into a graph");
        commit(s);
        ((__bridge SPEvent *)(void *)event).cmd = s.last;
        return SPECULA_OK;
    }
}

int32_t specula_event_elapsed(const specula_event *start, const specula_event *end, float *milliseconds) {
    if (start == NULL || end == NULL || milliseconds == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "NULL argument");
    @autoreleasepool {
        id<MTLCommandBuffer> a = ((__bridge SPEvent *)(void *)start).cmd, b = ((__bridge SPEvent *)(void *)end).cmd;
        [a waitUntilCompleted];
        [b waitUntilCompleted];
        double ms = (a != nil && b != nil) ? (b.GPUEndTime - a.GPUEndTime) * 1000.0 : 0.0;
        *milliseconds = ms > 0.0 ? (float)ms : 0.0f;
        return SPECULA_OK;
    }
}

int32_t specula_event_destroy(specula_event *event) {
    if (event != NULL) CFBridgingRelease(event);
    return SPECULA_OK;
}

int32_t specula_kernel_errors(int32_t device, int32_t *errors) {
    if (errors == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "errors is NULL");
    @autoreleasepool {
        int32_t status;
        SPDevice *dev = device_at(device, &status);
        if (dev == nil) return status;
        for (SPStream *s in dev.streams.allObjects) {
            int32_t st = synchronize(s);
            if (st != SPECULA_OK) return st;
        }
        uint32_t *word = (uint32_t *)dev.errors.contents;
        *errors = (int32_t)*word;
        *word = 0;
        return SPECULA_OK;
    }
}

// ---- graphs --------------------------------------------------------------------------------

int32_t specula_graph_begin(specula_stream *stream) {
    if (stream == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream is NULL");
    @autoreleasepool {
        SPStream *s = stream_of(stream);
        if (s.recording != nil) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "the stream is already recording a graph");
        SPGraph *g = [SPGraph new];
        g.steps = [NSMutableArray array];
        s.recording = g;
        return SPECULA_OK;
    }
}

int32_t specula_graph_end(specula_stream *stream, specula_graph **graph) {
    if (stream == NULL || graph == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "stream or graph is NULL");
    *graph = NULL;
    @autoreleasepool {
        SPStream *s = stream_of(stream);
        if (s.recording == nil) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "the stream is not recording a graph");
        *graph = (__bridge_retained void *)s.recording;
        s.recording = nil;
        return SPECULA_OK;
    }
}

int32_t specula_graph_launch(specula_graph *graph, specula_stream *stream) {
    if (graph == NULL || stream == NULL) return specula_fail(SPECULA_ERROR_INVALID_ARGUMENT, "graph or stream is NULL");
    @autoreleasepool {
        SPStream *s = stream_of(stream);
        if (s.recording != nil) return specula_fail(SPECULA_ERROR_UNSUPPORTED, "launching a graph while recording one");
        SPGraph *g = (__bridge SPGraph *)(void *)graph;
        int32_t status = ensure_scratch(s, g.scratchBytes);
        for (NSData *step in g.steps) {
            if (status != SPECULA_OK) break;
            status = run_step(s, (const specula_metal_step *)step.bytes);
        }
        if (status == SPECULA_OK) commit(s);  // start the step now; the caller synchronises when it needs results
        return status;
    }
}

int32_t specula_graph_destroy(specula_graph *graph) {
    if (graph != NULL) CFBridgingRelease(graph);
    return SPECULA_OK;
}
