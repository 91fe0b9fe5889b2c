#include "emu/emu_scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "fp8jit/error.hpp"
#include "emu/emu_fiber.hpp"

namespace fp8jit::emu {

namespace {

constexpr std::size_t kStackBytes = 64 * 1024;

enum class Wait : std::uint8_t { none, wave, barrier };

struct LaneState {
  Lane info{};
  FiberContext fiber;
  Wait wait = Wait::none;
  bool done = false;
  std::uint32_t wait_gen = 0;
};

struct WaveState {
  std::uint32_t size = 0, arrived = 0, gen = 0;
};

// One OS thread's share of a launch: the fibers of the block it runs, one block at a time.
struct Worker {
  const KernelRef* kernel = nullptr;
  void** args = nullptr;
  const MemoryMap* memory = nullptr;
  LaunchDims dims;
  FiberStacks stacks;
  std::vector<LaneState> lanes;
  std::vector<WaveState> waves;
  std::unique_ptr<std::uint8_t[]> scratch;  // 2 halves per wave
  std::uint32_t live = 0, barrier_arrived = 0, barrier_gen = 0, current = 0;
  FiberContext scheduler;
  std::uint64_t faults = 0;
  std::string first_fault;

  void fault(const std::string& what) noexcept {
    ++faults;
    if (!first_fault.empty()) return;
    const Lane& l = lanes[current].info;
    char where[96];
    std::snprintf(where, sizeof where, "block (%u, %u, %u) thread %u: ", l.block_x, l.block_y,
                  l.block_z, l.thread_x);
    try {
      first_fault = where + what;
    } catch (...) {
    }
  }
  void yield(Wait wait, std::uint32_t gen) noexcept {
    LaneState& l = lanes[current];
    l.wait = wait;
    l.wait_gen = gen;
    fiber_switch(l.fiber, scheduler);
  }
  void run_block(std::uint32_t bx, std::uint32_t by, std::uint32_t bz);
};

thread_local Worker* tls_worker = nullptr;

// ---- the host side of the prelude (emu::Host); called from fibers, never throws ---------------

Lane* host_lane() { return &tls_worker->lanes[tls_worker->current].info; }

void host_barrier() {
  Worker& w = *tls_worker;
  if (++w.barrier_arrived == w.live) {
    w.barrier_arrived = 0;
    ++w.barrier_gen;
    return;
  }
  w.yield(Wait::barrier, w.barrier_gen);
}

void host_wave_sync() {
  Worker& w = *tls_worker;
  WaveState& wave = w.waves[w.current / w.kernel->wave];
  if (++wave.arrived == wave.size) {
    wave.arrived = 0;
    ++wave.gen;
    return;
  }
  w.yield(Wait::wave, wave.gen);
}

int host_check(const void* p, unsigned long long bytes, unsigned long long align, const char* what) {
  Worker& w = *tls_worker;
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  char buf[160];
  if (align > 1 && addr % align != 0) {
    std::snprintf(buf, sizeof buf, "%s of %llu bytes at %p is not %llu-byte aligned", what, bytes, p,
                  align);
    w.fault(buf);
    return 0;
  }
  if (!w.memory->contains(p, bytes)) {
    std::snprintf(buf, sizeof buf, "%s of %llu bytes at %p is outside every allocation", what,
                  bytes, p);
    w.fault(buf);
    return 0;
  }
  return 1;
}

void host_fault(const char* what) { tls_worker->fault(what); }

const Host kHost = {kAbi, &host_lane, &host_barrier, &host_wave_sync, &host_check, &host_fault};

// Where every fiber starts: runs the kernel for the current lane, then hands back for good.
[[noreturn]] void fiber_main() {
  Worker& w = *tls_worker;
  LaneState& l = w.lanes[w.current];
  w.kernel->entry(w.args);
  l.done = true;
  fiber_switch(l.fiber, w.scheduler);
  __builtin_trap();  // a finished fiber is never resumed
}

void Worker::run_block(std::uint32_t bx, std::uint32_t by, std::uint32_t bz) {
  const std::uint32_t threads = dims.block[0], wave = kernel->wave;
  for (std::uint32_t t = 0; t < threads; ++t) {
    LaneState& l = lanes[t];
    l.info = {t, bx, by, bz, threads, dims.grid[0], t % wave, 0,
              scratch.get() + std::size_t{t / wave} * 2 * kScratchHalf};
    l.wait = Wait::none;
    l.done = false;
    stacks.make(l.fiber, t, &fiber_main);
  }
  for (std::size_t i = 0; i < waves.size(); ++i) {
    waves[i] = {std::min(wave, threads - static_cast<std::uint32_t>(i) * wave), 0, 0};
    std::memset(scratch.get() + i * 2 * kScratchHalf, 0, kScratchHeader);
    std::memset(scratch.get() + i * 2 * kScratchHalf + kScratchHalf, 0, kScratchHeader);
  }
  live = threads;
  barrier_arrived = 0;
  while (live > 0) {
    bool progressed = false;
    for (std::uint32_t t = 0; t < threads; ++t) {
      LaneState& l = lanes[t];
      if (l.done) continue;
      if (l.wait == Wait::wave && waves[t / wave].gen == l.wait_gen) continue;
      if (l.wait == Wait::barrier && barrier_gen == l.wait_gen) continue;
      l.wait = Wait::none;
      current = t;
      fiber_switch(scheduler, l.fiber);
      progressed = true;
      if (l.done && --live > 0 && barrier_arrived > 0 && barrier_arrived == live) {
        barrier_arrived = 0;  // the exited thread was the last one the barrier waited for
        ++barrier_gen;
      }
    }
    if (live > 0 && !progressed) {
      // Every remaining thread waits for one that never comes: abandon the block (its fibers hold
      // no resources; their stacks are reused).
      std::uint32_t at_wave = 0, at_barrier = 0, exited = threads - live;
      for (const LaneState& l : lanes) {
        if (l.done) continue;
        at_wave += l.wait == Wait::wave;
        at_barrier += l.wait == Wait::barrier;
      }
      for (std::uint32_t t = 0; t < threads; ++t)
        if (!lanes[t].done) {
          current = t;
          break;
        }
      fault("deadlock: " + std::to_string(at_wave) + " thread(s) wait at a warp/wave collective, " +
            std::to_string(at_barrier) + " at a barrier, " + std::to_string(exited) +
            " exited (a collective needs every lane of its warp/wave)");
      return;
    }
  }
}

}  // namespace

bool MemoryMap::contains(const void* p, std::size_t bytes) const {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                             [](std::uintptr_t x, const auto& r) { return x < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

LaunchReport run_launch(const KernelRef& kernel, const LaunchDims& dims, void** args,
                        const MemoryMap& memory, unsigned threads) {
  const auto xyz = [](const unsigned* v) {
    return std::to_string(v[0]) + "x" + std::to_string(v[1]) + "x" + std::to_string(v[2]);
  };
  const std::string what = "failed to launch emulated kernel " + kernel.name + " (grid " +
                           xyz(dims.grid) + ", block " + xyz(dims.block) + ")";
  if (dims.block[1] != 1 || dims.block[2] != 1)
    throw DriverError(what + ": the emulation runs 1-D blocks only");
  if (dims.block[0] == 0 || dims.block[0] > 1024)
    throw DriverError(what + ": a block must have 1 to 1024 threads");
  if (dims.shared_bytes != 0)
    throw DriverError(what + ": dynamic shared memory is not emulated");
  const std::uint64_t blocks = std::uint64_t{dims.grid[0]} * dims.grid[1] * dims.grid[2];
  LaunchReport report;
  if (blocks == 0) return report;

  const unsigned count = static_cast<unsigned>(
      std::max<std::uint64_t>(1, std::min<std::uint64_t>(blocks, threads ? threads : 1)));
  std::vector<std::unique_ptr<Worker>> workers;
  const std::uint32_t waves = (dims.block[0] + kernel.wave - 1) / kernel.wave;
  for (unsigned i = 0; i < count; ++i) {
    auto w = std::make_unique<Worker>();
    w->kernel = &kernel;
    w->args = args;
    w->memory = &memory;
    w->dims = dims;
    w->stacks = FiberStacks(dims.block[0], kStackBytes);
    w->lanes.resize(dims.block[0]);
    w->waves.resize(waves);
    w->scratch.reset(new std::uint8_t[std::size_t{waves} * 2 * kScratchHalf]);
    workers.push_back(std::move(w));
  }
  std::atomic<std::uint64_t> next{0};
  const auto work = [&](Worker* w) {
    tls_worker = w;
    for (std::uint64_t b; (b = next.fetch_add(1)) < blocks;) {
      const auto bx = static_cast<std::uint32_t>(b % dims.grid[0]);
      const auto by = static_cast<std::uint32_t>(b / dims.grid[0] % dims.grid[1]);
      const auto bz = static_cast<std::uint32_t>(b / (std::uint64_t{dims.grid[0]} * dims.grid[1]));
      w->run_block(bx, by, bz);
    }
    tls_worker = nullptr;
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < count; ++i) pool.emplace_back(work, workers[i].get());
  work(workers[0].get());
  for (auto& t : pool) t.join();
  for (const auto& w : workers) {
    report.faults += w->faults;
    if (report.first_fault.empty()) report.first_fault = w->first_fault;
  }
  return report;
}

const Host& host_table() { return kHost; }

}  // namespace fp8jit::emu
