// cuda-emu: the runtime API of cuda_runtime.h on host memory, and the block scheduler that runs a
// kernel's threads as fibers (see include/cuda_emu.h for the model and what it checks).
#include "cuda_runtime.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#ifdef EMU_ASAN
extern "C" void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif

#define EMU_HIDDEN __attribute__((visibility("hidden")))

namespace emu {
namespace {

// ---- the emulated device ---------------------------------------------------------------------

size_t env_size(const char *name, size_t fallback) {
    const char *v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    char *end = nullptr;
    unsigned long long n = std::strtoull(v, &end, 10);
    return end != v ? (size_t)n : fallback;
}

struct device_state {
    std::mutex lock;
    size_t total = env_size("SPECULA_CUDA_EMU_MEMORY", 4096) << 20;
    size_t used = 0;
    std::map<uintptr_t, size_t> allocations;  // cudaMalloc'd blocks by address
    std::map<uintptr_t, size_t> registered;   // cudaHostRegister'd ranges by address
    bool integrated = env_size("SPECULA_CUDA_EMU_INTEGRATED", 0) != 0;
    int count = (int)env_size("SPECULA_CUDA_EMU_DEVICES", 1) > 0 ? 1 : 0;
    std::atomic<int> sticky{cudaSuccess};  // a kernel fault: every later synchronising call returns it
};

device_state &device() {
    static device_state *d = new device_state();  // never destroyed: kernels may run at exit
    return *d;
}

thread_local cudaError_t last_error = cudaSuccess;
thread_local int current_device = 0;

cudaError_t fail(cudaError_t e) {
    last_error = e;
    return e;
}

cudaError_t sticky_or(cudaError_t e) {
    const int s = device().sticky.load();
    return s != cudaSuccess ? fail((cudaError_t)s) : e;
}

// A kernel fault: reported once on stderr, then sticky, as a GPU context is after one.
void fault(const std::string &message) {
    int expected = cudaSuccess;
    if (device().sticky.compare_exchange_strong(expected, cudaErrorLaunchFailure)) {
        std::fprintf(stderr, "cuda-emu: %s\n", message.c_str());
    }
}

}  // namespace
}  // namespace emu

// ---- streams, events, graphs -----------------------------------------------------------------

struct CUevent_st {
    std::chrono::steady_clock::time_point at;
    bool recorded = false;
};

using op = std::function<void()>;

struct CUgraph_st {
    std::vector<op> ops;
};
struct CUgraphExec_st {
    std::vector<op> ops;
};

struct CUstream_st {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    std::unique_ptr<CUgraph_st> graph;
};

namespace emu {
namespace {

// Runs op now, or appends it to the graph the stream is recording.
cudaError_t enqueue(cudaStream_t stream, op o) {
    if (stream != nullptr && stream->capture != cudaStreamCaptureStatusNone) {
        if (stream->capture == cudaStreamCaptureStatusActive) stream->graph->ops.push_back(std::move(o));
        return cudaSuccess;
    }
    o();
    return cudaSuccess;
}

// A call that waits for the stream, made while it records: CUDA refuses it and invalidates the capture.
bool refuse_while_capturing(cudaStream_t stream) {
    if (stream == nullptr || stream->capture == cudaStreamCaptureStatusNone) return false;
    stream->capture = cudaStreamCaptureStatusInvalidated;
    fail(cudaErrorStreamCaptureUnsupported);
    return true;
}

}  // namespace
}  // namespace emu

// ---- the block scheduler ---------------------------------------------------------------------

namespace emu {
namespace {

constexpr size_t STACK_BYTES = 256 << 10;
constexpr int MAX_THREADS = 1024;

// A fiber's saved context. On x86-64 a switch saves the callee-saved registers on the fiber's own
// stack and swaps stack pointers (no system call, unlike swapcontext, which saves the signal mask);
// elsewhere ucontext does it.
#if defined(__x86_64__)
struct context {
    void *sp;
};
}  // namespace
}  // namespace emu
extern "C" void specula_emu_switch(void **save_sp, void *to_sp);
extern "C" void specula_emu_fiber_entry();
asm(R"(
    .text
    .p2align 4
    .hidden specula_emu_switch
    .globl specula_emu_switch
    .type specula_emu_switch, @function
specula_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size specula_emu_switch, .-specula_emu_switch
)");
namespace emu {
namespace {
inline void context_switch(context &from, context &to) { specula_emu_switch(&from.sp, to.sp); }
void context_init(context &c, char *stack, size_t bytes) {
    // The stack as specula_emu_switch leaves it: six saved registers, then the return address
    // (the entry), then a zero return address for the entry itself, which never returns.
    uintptr_t top = ((uintptr_t)stack + bytes) & ~(uintptr_t)15;
    void **p = reinterpret_cast<void **>(top);
    *--p = nullptr;
    *--p = reinterpret_cast<void *>(&specula_emu_fiber_entry);
    for (int i = 0; i < 6; i++) *--p = nullptr;
    c.sp = p;
}
#else
struct context {
    ucontext_t uc;
};
extern "C" void specula_emu_fiber_entry();
inline void context_switch(context &from, context &to) { swapcontext(&from.uc, &to.uc); }
void context_init(context &c, char *stack, size_t bytes) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = bytes;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, specula_emu_fiber_entry, 0);
}
#endif

enum fiber_state { RUNNABLE, WAIT_BLOCK, WAIT_WARP, DONE };

struct fiber {
    context ctx;
    thread_state ts;
    fiber_state state;
    unsigned long long exchanges;  // warp exchanges done, picks the double buffer
};

struct warp {
    unsigned int existing;  // lanes the block has in this warp
    unsigned int exited;
    unsigned int arrived;
    unsigned int mask;  // of the barrier being gathered
    unsigned long long generation;
    unsigned char slots[2][32][16];
};

struct block_run {
    const char *kernel;
    const std::function<void()> *body;
    int n_threads;
    std::vector<fiber> fibers;
    std::vector<warp> warps;
    int live, arrived;
    unsigned long long generation, progress;
    int current;
    context scheduler;
    bool aborted;
    std::string problem;
#ifdef EMU_ASAN
    void *fake_stack = nullptr;
    const void *scheduler_bottom = nullptr;
    size_t scheduler_size = 0;
#endif
};

// Per OS thread: the block being run and the fiber stacks.
struct worker {
    block_run run;
    std::vector<char *> stacks;

    char *stack(int i) {
        while ((int)stacks.size() <= i) {
            void *p = mmap(nullptr, STACK_BYTES + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) {
                std::fprintf(stderr, "cuda-emu: no memory for fiber stacks\n");
                std::abort();
            }
            mprotect(p, 4096, PROT_NONE);  // guard page below the stack
            stacks.push_back(static_cast<char *>(p) + 4096);
        }
        return stacks[i];
    }
};

thread_local worker *this_worker = nullptr;

worker &get_worker() {
    if (this_worker == nullptr) this_worker = new worker();  // lives as long as the thread (stacks reused)
    return *this_worker;
}

std::string dim_text(uint3 v) { return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")"; }

// Switches from the running fiber back to the scheduler (it resumes the fiber later).
void yield_to_scheduler(block_run &r) {
    fiber &f = r.fibers[r.current];
#ifdef EMU_ASAN
    void *fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, r.scheduler_bottom, r.scheduler_size);
    context_switch(f.ctx, r.scheduler);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    context_switch(f.ctx, r.scheduler);
#endif
}

}  // namespace
}  // namespace emu

extern "C" void specula_emu_fiber_entry() {
    using namespace emu;
    block_run &r = get_worker().run;
#ifdef EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &r.scheduler_bottom, &r.scheduler_size);
#endif
    (*r.body)();
    fiber &f = r.fibers[r.current];
    f.state = DONE;
    r.live--;
    r.progress++;
    warp &w = r.warps[f.ts.linear / 32];
    w.exited |= 1u << (f.ts.linear % 32);
    // Threads that have exited count as arrived at __syncthreads, as on the GPU.
    if (r.arrived > 0 && r.arrived >= r.live) {
        r.arrived = 0;
        r.generation++;
    }
#ifdef EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, r.scheduler_bottom, r.scheduler_size);
#endif
    context_switch(f.ctx, r.scheduler);  // never resumed
}

namespace emu {
namespace {

block_run &running(const char *what) {
    worker *w = this_worker;
    if (w == nullptr || w->run.body == nullptr) {
        std::fprintf(stderr, "cuda-emu: %s called outside a kernel\n", what);
        std::abort();
    }
    return w->run;
}

void describe_deadlock(block_run &r) {
    std::string s = "kernel " + std::string(r.kernel) + " block " + dim_text(r.fibers[0].ts.block_idx) + " deadlocked:";
    int shown = 0;
    for (int i = 0; i < r.n_threads && shown < 4; i++) {
        const fiber &f = r.fibers[i];
        if (f.state == WAIT_BLOCK || f.state == WAIT_WARP) {
            s += " thread " + dim_text(f.ts.thread_idx) + (f.state == WAIT_BLOCK ? " waits at __syncthreads;" : " waits at a warp collective;");
            shown++;
        }
    }
    s += " " + std::to_string(r.n_threads - r.live) + " of " + std::to_string(r.n_threads) + " threads have exited";
    r.problem = s;
}

void run_block(const char *name, const std::function<void()> &body, dim3 grid, dim3 block, uint3 block_idx) {
    worker &wk = get_worker();
    block_run &r = wk.run;
    const int n = (int)(block.x * block.y * block.z);
    r.kernel = name;
    r.body = &body;
    r.n_threads = n;
    r.fibers.resize(n);
    r.warps.assign((n + 31) / 32, warp{});
    for (int wi = 0; wi < (int)r.warps.size(); wi++) {
        const int lanes = n - 32 * wi >= 32 ? 32 : n - 32 * wi;
        r.warps[wi].existing = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
    }
    r.live = n;
    r.arrived = 0;
    r.generation = 0;
    r.progress = 0;
    r.aborted = false;
    for (int i = 0; i < n; i++) {
        fiber &f = r.fibers[i];
        f.ts.thread_idx = uint3{(unsigned)i % block.x, ((unsigned)i / block.x) % block.y, (unsigned)i / (block.x * block.y)};
        f.ts.block_idx = block_idx;
        f.ts.block_dim = block;
        f.ts.grid_dim = grid;
        f.ts.linear = i;
        f.state = RUNNABLE;
        f.exchanges = 0;
        context_init(f.ctx, wk.stack(i), STACK_BYTES);
    }
    // Warps run one at a time, each as far as it gets (to a __syncthreads, or its end) before the
    // next starts, its lanes interleaving only at warp collectives: the schedule furthest from
    // lockstep, so a missing __syncthreads between one warp's writes and another's reads shows.
    // Odd blocks take the warps in reverse, and every other pair of blocks the lanes in reverse,
    // so "thread 0 writes, the rest read" and its mirror image both come up.
    const unsigned long long b = block_idx.x + (unsigned long long)grid.x * (block_idx.y + (unsigned long long)grid.y * block_idx.z);
    const bool warps_reversed = (b & 1) != 0, lanes_reversed = (b & 2) != 0;
    const int n_warps = (int)r.warps.size();
    // SPECULA_CUDA_EMU_SEED=N: warps and lanes in an order drawn from N and the block instead, a
    // different interleaving for each seed (a race the fixed orders miss may show under some seed).
    static const unsigned long long seed = env_size("SPECULA_CUDA_EMU_SEED", 0);
    int warp_order[MAX_THREADS / 32], lane_order[32];
    for (int i = 0; i < n_warps; i++) warp_order[i] = warps_reversed ? n_warps - 1 - i : i;
    for (int i = 0; i < 32; i++) lane_order[i] = i;
    if (seed != 0) {
        unsigned long long x = seed * 0x9E3779B97F4A7C15ull ^ (b + 1) * 0xD1B54A32D192ED03ull;
        auto next = [&x]() {
            x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
            return x * 0x2545F4914F6CDD1Dull;
        };
        for (int i = n_warps - 1; i > 0; i--) std::swap(warp_order[i], warp_order[next() % (unsigned long long)(i + 1)]);
        for (int i = 31; i > 0; i--) std::swap(lane_order[i], lane_order[next() % (unsigned long long)(i + 1)]);
    }
    int done = 0;
    while (done < n) {
        const unsigned long long before = r.progress;
        for (int wi = 0; wi < n_warps; wi++) {
            const int w = warp_order[wi];
            const int lanes = n - 32 * w >= 32 ? 32 : n - 32 * w;
            for (;;) {
                const unsigned long long warp_before = r.progress;
                for (int li = 0; li < (seed != 0 ? 32 : lanes); li++) {
                    const int l = seed != 0 ? lane_order[li] : (lanes_reversed ? lanes - 1 - li : li);
                    if (l >= lanes) continue;  // a partial warp's missing lanes, drawn by the seed
                    const int i = 32 * w + l;
                    if (r.fibers[i].state == DONE) continue;
                    r.current = i;
#ifdef EMU_ASAN
                    __sanitizer_start_switch_fiber(&r.fake_stack, wk.stack(i), STACK_BYTES);
                    context_switch(r.scheduler, r.fibers[i].ctx);
                    __sanitizer_finish_switch_fiber(r.fake_stack, nullptr, nullptr);
#else
                    context_switch(r.scheduler, r.fibers[i].ctx);
#endif
                    if (r.fibers[i].state == DONE) done++;
                }
                if (r.progress == warp_before) break;  // every lane waits at __syncthreads, or is done
                bool all_at_block_barrier = true;
                for (int li = 0; li < lanes; li++) {
                    const fiber_state st = r.fibers[32 * w + li].state;
                    if (st != DONE && st != WAIT_BLOCK) all_at_block_barrier = false;
                }
                if (all_at_block_barrier) break;
            }
        }
        if (done < n && r.progress == before) {
            describe_deadlock(r);
            r.aborted = true;
            break;
        }
    }
    r.body = nullptr;
}

// The blocks of a grid, shared out over SPECULA_CUDA_EMU_THREADS OS threads (default: the CPUs):
// blocks are independent in CUDA, and each OS thread has its own __shared__ statics and fibers.
struct pool {
    std::mutex run_lock;  // one grid at a time
    std::mutex m;
    std::condition_variable wake, finished;
    std::vector<std::thread> threads;
    const std::function<bool(unsigned long long)> *job = nullptr;
    unsigned long long n_blocks = 0, epoch = 0;
    std::atomic<unsigned long long> next{0};
    std::atomic<bool> stop{false};
    int active = 0;

    pool() {
        unsigned int n = (unsigned int)env_size("SPECULA_CUDA_EMU_THREADS", std::thread::hardware_concurrency());
        if (n < 1) n = 1;
        if (n > 64) n = 64;
        for (unsigned int i = 1; i < n; i++) threads.emplace_back([this]() { loop(); });
    }

    void work() {
        for (;;) {
            if (stop.load()) return;
            const unsigned long long b = next.fetch_add(1);
            if (b >= n_blocks) return;
            if (!(*job)(b)) stop.store(true);
        }
    }

    void loop() {
        unsigned long long seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> g(m);
                wake.wait(g, [&]() { return epoch != seen; });
                seen = epoch;
            }
            work();
            std::lock_guard<std::mutex> g(m);
            if (--active == 0) finished.notify_all();
        }
    }

    void run(unsigned long long blocks, const std::function<bool(unsigned long long)> &fn) {
        std::lock_guard<std::mutex> serial(run_lock);
        if (threads.empty() || blocks < 2) {
            for (unsigned long long b = 0; b < blocks; b++)
                if (!fn(b)) return;
            return;
        }
        {
            std::lock_guard<std::mutex> g(m);
            job = &fn;
            n_blocks = blocks;
            next.store(0);
            stop.store(false);
            active = (int)threads.size();
            epoch++;
        }
        wake.notify_all();
        work();
        std::unique_lock<std::mutex> g(m);
        finished.wait(g, [&]() { return active == 0; });
        job = nullptr;
    }
};

pool &block_pool() {
    static pool *p = new pool();  // never destroyed: its threads wait until the process ends
    return *p;
}

}  // namespace

const thread_state &current() {
    worker *w = this_worker;
    if (w != nullptr && w->run.body != nullptr) return w->run.fibers[w->run.current].ts;
    std::fprintf(stderr, "cuda-emu: threadIdx/blockIdx read outside a kernel\n");
    std::abort();
}

void sync_block() {
    block_run &r = running("__syncthreads");
    fiber &f = r.fibers[r.current];
    const unsigned long long gen = r.generation;
    r.arrived++;
    r.progress++;
    if (r.arrived >= r.live) {
        r.arrived = 0;
        r.generation++;
        return;
    }
    f.state = WAIT_BLOCK;
    while (r.generation == gen) yield_to_scheduler(r);
    f.state = RUNNABLE;
}

namespace {
void warp_barrier(block_run &r, fiber &f, unsigned int mask) {
    const int lane = f.ts.linear % 32;
    warp &w = r.warps[f.ts.linear / 32];
    if ((mask & (1u << lane)) == 0) {
        r.problem = "kernel " + std::string(r.kernel) + " thread " + dim_text(f.ts.thread_idx) + " calls a warp collective with a mask that leaves it out";
        mask |= 1u << lane;
    }
    const unsigned int expected = mask & w.existing;
    if (w.arrived == 0) {
        w.mask = mask;
    } else if (w.mask != mask) {
        r.problem = "kernel " + std::string(r.kernel) + " thread " + dim_text(f.ts.thread_idx) + " joins a warp collective with mask " +
                    std::to_string(mask) + " while its warp gathers " + std::to_string(w.mask);
    }
    const unsigned long long gen = w.generation;
    w.arrived |= 1u << lane;
    r.progress++;
    if ((w.arrived & expected) == expected) {
        w.arrived = 0;
        w.generation++;
        return;
    }
    f.state = WAIT_WARP;
    while (w.generation == gen) yield_to_scheduler(r);
    f.state = RUNNABLE;
}
}  // namespace

void sync_warp(unsigned int mask) {
    block_run &r = running("__syncwarp");
    warp_barrier(r, r.fibers[r.current], mask);
}

void warp_exchange(unsigned int mask, const void *in, void *out, size_t bytes, int mode, int arg, int width) {
    block_run &r = running("__shfl_*_sync");
    fiber &f = r.fibers[r.current];
    warp &w = r.warps[f.ts.linear / 32];
    const int lane = f.ts.linear % 32;
    if (bytes > 16 || width <= 0 || width > 32 || (width & (width - 1)) != 0) {
        r.problem = "kernel " + std::string(r.kernel) + ": shuffle of " + std::to_string(bytes) + " bytes, width " + std::to_string(width);
        std::memcpy(out, in, bytes);
        return;
    }
    const int buffer = (int)(f.exchanges++ & 1);
    std::memcpy(w.slots[buffer][lane], in, bytes);
    warp_barrier(r, f, mask);
    const int base = lane & ~(width - 1), in_group = lane - base;
    int src = lane;
    switch (mode) {
        case SHFL_XOR: src = base + ((in_group ^ arg) & (width - 1)); if ((in_group ^ arg) >= width) src = lane; break;
        case SHFL_IDX: src = base + (arg & (width - 1)); break;
        case SHFL_UP: src = in_group - arg >= 0 ? lane - arg : lane; break;
        case SHFL_DOWN: src = in_group + arg < width ? lane + arg : lane; break;
        default: break;
    }
    if ((mask & (1u << src)) == 0 || (w.existing & (1u << src)) == 0) {
        r.problem = "kernel " + std::string(r.kernel) + " thread " + dim_text(f.ts.thread_idx) + " reads lane " + std::to_string(src) +
                    " of its warp, which is not in the shuffle";
        src = lane;
    }
    std::memcpy(out, w.slots[buffer][src], bytes);
}

void current_indices(unsigned int v[12]) {
    const thread_state &t = current();
    const unsigned int all[12] = {t.thread_idx.x, t.thread_idx.y, t.thread_idx.z, t.block_idx.x, t.block_idx.y, t.block_idx.z,
                                  t.block_dim.x, t.block_dim.y, t.block_dim.z, t.grid_dim.x, t.grid_dim.y, t.grid_dim.z};
    std::memcpy(v, all, sizeof all);
}

void run_grid(const char *name, const unsigned int grid[3], const unsigned int block[3], void (*fn)(void *), void *ctx) {
    submit(name, dim3(grid[0], grid[1], grid[2]), dim3(block[0], block[1], block[2]), 0, nullptr, [fn, ctx]() { fn(ctx); });
}

unsigned int warp_gather(const void *in, void *out, size_t bytes) {
    block_run &r = running("simd reduction");
    fiber &f = r.fibers[r.current];
    warp &w = r.warps[f.ts.linear / 32];
    const int lane = f.ts.linear % 32;
    const int buffer = (int)(f.exchanges++ & 1);
    std::memcpy(w.slots[buffer][lane], in, bytes);
    warp_barrier(r, f, w.existing & ~w.exited);
    for (int l = 0; l < 32; l++)
        if (w.existing & (1u << l)) std::memcpy(static_cast<char *>(out) + (size_t)l * bytes, w.slots[buffer][l], bytes);
    return w.existing;
}

void submit(const char *name, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, std::function<void()> body) {
    const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || threads > (unsigned long long)MAX_THREADS || block.z > 64 ||
        grid.y > 65535 || grid.z > 65535 || smem > (227u << 10)) {
        std::fprintf(stderr, "cuda-emu: kernel %s: launch grid (%u,%u,%u) block (%u,%u,%u) smem %zu refused\n", name, grid.x, grid.y,
                     grid.z, block.x, block.y, block.z, smem);
        fail(cudaErrorInvalidConfiguration);
        return;
    }
    if (device().sticky.load() != cudaSuccess) return;  // a faulted context runs nothing more
    auto grid_op = [name, grid, block, body]() {
        if (device().sticky.load() != cudaSuccess) return;
        const unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
        std::function<bool(unsigned long long)> one = [&](unsigned long long b) {
            const uint3 idx{(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((unsigned long long)grid.x * grid.y))};
            run_block(name, body, grid, block, idx);
            block_run &r = get_worker().run;
            if (r.problem.empty() && !r.aborted) return true;
            fault(r.problem.empty() ? "kernel " + std::string(name) + " failed" : r.problem);
            r.problem.clear();
            return false;
        };
        block_pool().run(blocks, one);
    };
    enqueue(stream, grid_op);
}

}  // namespace emu

// ---- the runtime API -------------------------------------------------------------------------

using emu::device;
using emu::fail;

cudaError_t cudaGetDeviceCount(int *count) {
    *count = device().count;
    return device().count > 0 ? cudaSuccess : fail(cudaErrorNoDevice);
}

cudaError_t cudaSetDevice(int d) {
    if (d < 0 || d >= device().count) return fail(device().count == 0 ? cudaErrorNoDevice : cudaErrorInvalidDevice);
    emu::current_device = d;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int *d) {
    *d = emu::current_device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int d) {
    if (d < 0 || d >= device().count) return fail(cudaErrorInvalidDevice);
    std::memset(p, 0, sizeof *p);
    std::snprintf(p->name, sizeof p->name, "cuda-emu (CPU emulation%s)", device().integrated ? ", integrated" : "");
    p->totalGlobalMem = device().total;
    p->sharedMemPerBlock = 48 << 10;
    p->warpSize = 32;
    p->maxThreadsPerBlock = emu::MAX_THREADS;
    p->maxThreadsDim[0] = p->maxThreadsDim[1] = 1024;
    p->maxThreadsDim[2] = 64;
    p->maxGridSize[0] = 0x7fffffff;
    p->maxGridSize[1] = p->maxGridSize[2] = 65535;
    p->major = 9;
    p->minor = 0;
    p->multiProcessorCount = (int)std::thread::hardware_concurrency();
    p->integrated = device().integrated ? 1 : 0;
    p->canMapHostMemory = 1;
    p->concurrentKernels = 1;
    p->unifiedAddressing = 1;
    p->pageableMemoryAccess = device().integrated ? 1 : 0;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    std::lock_guard<std::mutex> g(device().lock);
    *total_bytes = device().total;
    *free_bytes = device().total - device().used;
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() { return emu::sticky_or(cudaSuccess); }

cudaError_t cudaGetLastError() {
    const int s = device().sticky.load();
    if (s != cudaSuccess) return (cudaError_t)s;
    cudaError_t e = emu::last_error;
    emu::last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError() {
    const int s = device().sticky.load();
    return s != cudaSuccess ? (cudaError_t)s : emu::last_error;
}

const char *cudaGetErrorName(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInitializationError: return "cudaErrorInitializationError";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
        case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
        case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
        case cudaErrorNoDevice: return "cudaErrorNoDevice";
        case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
        case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
        case cudaErrorNotReady: return "cudaErrorNotReady";
        case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
        case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
        case cudaErrorHostMemoryAlreadyRegistered: return "cudaErrorHostMemoryAlreadyRegistered";
        case cudaErrorHostMemoryNotRegistered: return "cudaErrorHostMemoryNotRegistered";
        case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
        case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
        case cudaErrorStreamCaptureWrongThread: return "cudaErrorStreamCaptureWrongThread";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorLaunchFailure: return "unspecified launch failure (cuda-emu printed why on stderr)";
        case cudaErrorHostMemoryAlreadyRegistered: return "part or all of the requested memory range is already mapped";
        case cudaErrorHostMemoryNotRegistered: return "pointer does not correspond to a registered memory region";
        case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
        case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
        default: return cudaGetErrorName(e);
    }
}

cudaError_t cudaMalloc(void **p, size_t bytes) {
    *p = nullptr;
    std::lock_guard<std::mutex> g(device().lock);
    const size_t rounded = (bytes + 255) & ~(size_t)255;
    if (rounded > device().total - device().used) return fail(cudaErrorMemoryAllocation);
    // The exact size asked for (256-byte aligned, as cudaMalloc's), so that under ASan a read one
    // past the end is reported as compute-sanitizer's memcheck would, not hidden in the rounding.
    void *m = nullptr;
    if (posix_memalign(&m, 256, bytes == 0 ? 1 : bytes) != 0) return fail(cudaErrorMemoryAllocation);
    std::memset(m, 0xff, bytes);  // as if uninitialised: NaN as F32 and F16
    device().allocations[(uintptr_t)m] = rounded;
    device().used += rounded;
    *p = m;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
    if (p == nullptr) return cudaSuccess;
    std::lock_guard<std::mutex> g(device().lock);
    auto it = device().allocations.find((uintptr_t)p);
    if (it == device().allocations.end()) return fail(cudaErrorInvalidDevicePointer);
    device().used -= it->second;
    device().allocations.erase(it);
    std::free(p);
    return cudaSuccess;
}

cudaError_t cudaHostRegister(void *p, size_t bytes, unsigned int) {
    if (p == nullptr || bytes == 0) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> g(device().lock);
    const uintptr_t a = (uintptr_t)p;
    auto it = device().registered.upper_bound(a);
    if (it != device().registered.end() && it->first < a + bytes) return fail(cudaErrorHostMemoryAlreadyRegistered);
    if (it != device().registered.begin()) {
        --it;
        if (it->first + it->second > a) return fail(cudaErrorHostMemoryAlreadyRegistered);
    }
    device().registered[a] = bytes;
    return cudaSuccess;
}

cudaError_t cudaHostUnregister(void *p) {
    std::lock_guard<std::mutex> g(device().lock);
    auto it = device().registered.find((uintptr_t)p);
    if (it == device().registered.end()) return fail(cudaErrorHostMemoryNotRegistered);
    device().registered.erase(it);
    return cudaSuccess;
}

cudaError_t cudaHostGetDevicePointer(void **d, void *host, unsigned int flags) {
    *d = nullptr;
    if (flags != 0) return fail(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> g(device().lock);
    const uintptr_t a = (uintptr_t)host;
    auto it = device().registered.upper_bound(a);
    if (it == device().registered.begin()) return fail(cudaErrorInvalidValue);
    --it;
    if (a >= it->first + it->second) return fail(cudaErrorInvalidValue);
    *d = host;  // one address space
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind) {
    cudaError_t e = emu::sticky_or(cudaSuccess);
    if (e != cudaSuccess) return e;
    if (bytes > 0) std::memmove(dst, src, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind, cudaStream_t stream) {
    cudaError_t e = emu::sticky_or(cudaSuccess);
    if (e != cudaSuccess) return e;
    return emu::enqueue(stream, [dst, src, bytes]() {
        if (bytes > 0) std::memmove(dst, src, bytes);
    });
}

cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    cudaError_t e = emu::sticky_or(cudaSuccess);
    if (e != cudaSuccess) return e;
    std::memset(p, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream) {
    cudaError_t e = emu::sticky_or(cudaSuccess);
    if (e != cudaSuccess) return e;
    return emu::enqueue(stream, [p, value, bytes]() { std::memset(p, value, bytes); });
}

cudaError_t cudaStreamCreate(cudaStream_t *stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int) {
    *stream = new CUstream_st();
    return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    if (stream == nullptr) return fail(cudaErrorInvalidResourceHandle);
    delete stream;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    if (emu::refuse_while_capturing(stream)) return cudaErrorStreamCaptureUnsupported;
    return emu::sticky_or(cudaSuccess);
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
    if (stream == nullptr) return fail(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot record
    if (stream->capture != cudaStreamCaptureStatusNone) return fail(cudaErrorInvalidValue);
    stream->capture = cudaStreamCaptureStatusActive;
    stream->graph.reset(new CUgraph_st());
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
    *graph = nullptr;
    if (stream == nullptr || stream->capture == cudaStreamCaptureStatusNone) return fail(cudaErrorInvalidValue);
    const bool invalidated = stream->capture == cudaStreamCaptureStatusInvalidated;
    stream->capture = cudaStreamCaptureStatusNone;
    std::unique_ptr<CUgraph_st> g(std::move(stream->graph));
    if (invalidated) return fail(cudaErrorStreamCaptureInvalidated);
    *graph = g.release();
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status) {
    *status = stream == nullptr ? cudaStreamCaptureStatusNone : stream->capture;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int) {
    *event = new CUevent_st();
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
    return emu::enqueue(stream, [event]() {
        event->at = std::chrono::steady_clock::now();
        event->recorded = true;
    });
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
    return emu::sticky_or(cudaSuccess);
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    if (start == nullptr || end == nullptr) return fail(cudaErrorInvalidResourceHandle);
    if (!start->recorded || !end->recorded) return fail(cudaErrorInvalidResourceHandle);
    *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
    return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
    if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
    delete event;
    return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned int) {
    return event == nullptr ? fail(cudaErrorInvalidResourceHandle) : cudaSuccess;
}

cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long) {
    if (graph == nullptr) return fail(cudaErrorInvalidValue);
    *exec = new CUgraphExec_st{graph->ops};
    return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
    if (exec == nullptr) return fail(cudaErrorInvalidValue);
    cudaError_t e = emu::sticky_or(cudaSuccess);
    if (e != cudaSuccess) return e;
    for (const op &o : exec->ops) emu::enqueue(stream, o);
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    delete graph;
    return cudaSuccess;
}
