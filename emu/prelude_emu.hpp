// prelude_emu.hpp — the common part of fp8jit's CPU emulation preludes (docs/emulator.md).
//
// An emulation target (emu-gfx942, emu-gfx950, emu-sm89) renders the SAME kernel family text as
// the GPU target, with prelude_emu_amd.hpp or prelude_emu_nvidia.hpp in place of the vendor
// prelude; the host C++ compiler builds it into a shared object that the emulation driver
// (emu/emu_driver.cpp) loads and runs: every GPU thread is a cooperative fiber, a block's
// fibers run on one OS thread, blocks run in parallel on several.
//
// Rules, as for the GPU preludes: no system headers (builtins only), every name in namespace
// fp8jit or FP8JIT_-prefixed, and the common API below has the same names and meaning as in
// prelude_cuda.cuh / prelude_hip.hip: u8..u64, i32, i64, u32x4; FP8JIT_DEVICE / FP8JIT_KERNEL /
// FP8JIT_LAUNCH_BOUNDS / FP8JIT_SHARED / FP8JIT_RESTRICT; thread_x, block_x/y/z, block_dim_x,
// grid_dim_x, barrier, warp_size; load16 / store16 / load8 / load4; bf16_t, fp16_t and their
// conversions. The vendor file includes this one after defining:
//   FP8JIT_EMU_WAVE       lanes per warp / wave (32 or 64)
//   FP8JIT_EMU_ALIGN(n)   alignment a load/store of n bytes must have (faults otherwise)
//   FP8JIT_EMU_CANONICAL_NAN  1: bf16/fp16 conversions of NaN give 0x7fff (NVIDIA cvt.rn);
//                             0: a quiet NaN keeping the payload's top bits (AMD)
//
// The host side is reached through fp8jit_emu_host (set by the driver after dlopen): the calling
// lane's indices, the block barrier, the warp/wave rendezvous and the memory check. Loads and
// stores through this prelude are checked against the driver's live allocations and alignment;
// a bad one is reported as a fault of the launch (and reads zeros / writes nothing). Plain C++
// pointer accesses in a kernel are not checked.
#ifndef FP8JIT_PRELUDE_EMU
#define FP8JIT_PRELUDE_EMU

#define FP8JIT_EMU 1
#define FP8JIT_DEVICE inline
#define FP8JIT_KERNEL extern "C"
#define FP8JIT_LAUNCH_BOUNDS(threads)
// Shared memory / LDS: one copy per OS thread, and every fiber of a block runs on one OS thread.
// NOTE: unlike a GPU, its contents persist from one block to the next on the same OS thread.
#define FP8JIT_SHARED static thread_local
#define FP8JIT_RESTRICT __restrict__
#define FP8JIT_EMU_EXPORT __attribute__((visibility("default")))
// The emulated matrix atoms are big; inlining them at every unrolled call site only slows the
// host compile down.
#define FP8JIT_EMU_ATOM __attribute__((noinline))

#include "prelude_types.inc"

namespace fp8jit {

namespace emu {

// ---- the driver ABI (emu/emu_abi.hpp holds the same declarations; kAbi guards them) -------

constexpr u32 kAbi = 1;
// Each warp / wave owns 2 halves of kScratchHalf bytes, used by alternate collectives: a header
// (zeroed by the driver when a block starts), the lanes' deposits, then what the collective
// derives from them once for all lanes (a decoded tile).
constexpr u32 kScratchHalf = 32768;
constexpr u32 kScratchHeader = 64;
constexpr u32 kDepositBytes = 64;  // per lane
constexpr u32 kTileOffset = kScratchHeader + 64 * kDepositBytes;

struct Lane {
  u32 thread_x, block_x, block_y, block_z, block_dim_x, grid_dim_x;
  u32 lane;          // index in its warp / wave
  u32 collectives;   // warp/wave collectives this lane has completed
  u8* wave_scratch;  // 2 * kScratchHalf bytes shared by the lanes of this warp / wave
};

struct Host {
  u32 abi;
  Lane* (*lane)();                 // the calling lane
  void (*barrier)();               // block barrier: every thread of the block that has not exited
  void (*wave_sync)();             // rendezvous of every lane of the caller's warp / wave
  // 1 when [p, p + bytes) lies in one live allocation and p is `align`-aligned; otherwise records
  // a fault of the launch (`what` names the access) and returns 0.
  int (*check)(const void* p, u64 bytes, u64 align, const char* what);
  void (*fault)(const char* what);  // records a fault of the launch (a broken kernel contract)
};

}  // namespace emu
}  // namespace fp8jit

extern "C" {
FP8JIT_EMU_EXPORT const fp8jit::emu::Host* fp8jit_emu_host = nullptr;
FP8JIT_EMU_EXPORT extern const unsigned fp8jit_emu_abi = fp8jit::emu::kAbi;
FP8JIT_EMU_EXPORT extern const unsigned fp8jit_emu_wave_size = FP8JIT_EMU_WAVE;
}

namespace fp8jit {
namespace emu {

FP8JIT_DEVICE const Host& host() { return *fp8jit_emu_host; }
FP8JIT_DEVICE Lane& lane() { return *fp8jit_emu_host->lane(); }

template <class To, class From>
FP8JIT_DEVICE To bits(const From& x) {
  static_assert(sizeof(To) == sizeof(From), "bit cast between types of one size");
  return __builtin_bit_cast(To, x);
}

template <class T>
FP8JIT_DEVICE T load(const void* p, const char* what) {
  T v{};
  if (host().check(p, sizeof(T), FP8JIT_EMU_ALIGN(sizeof(T)), what)) __builtin_memcpy(&v, p, sizeof(T));
  return v;
}
template <class T>
FP8JIT_DEVICE void store(void* p, const T& v, const char* what) {
  if (host().check(p, sizeof(T), FP8JIT_EMU_ALIGN(sizeof(T)), what)) __builtin_memcpy(p, &v, sizeof(T));
}

// ---- warp / wave collectives -------------------------------------------------------------------
// Every lane deposits its operands and waits for the others; then each lane reads what it needs.
// The half used alternates per collective, so a lane may deposit for the next collective while
// slower lanes still read this one: the next-but-one starts only after everyone arrived at the
// next, i.e. after everyone finished reading this one.

// This collective's half of the scratch, after the caller's deposit of `bytes` and the rendezvous.
FP8JIT_DEVICE u8* exchange(const void* mine, u32 bytes) {
  Lane& me = lane();
  u8* half = me.wave_scratch + (me.collectives & 1u) * kScratchHalf;
  __builtin_memcpy(half + kScratchHeader + me.lane * kDepositBytes, mine, bytes);
  host().wave_sync();
  return half;
}
// Lane `l`'s deposit in `half`.
FP8JIT_DEVICE const u8* deposit(const u8* half, u32 l) {
  return half + kScratchHeader + l * kDepositBytes;
}
// True for the first lane past the rendezvous of this collective, which derives the shared part
// (the decoded tile at half + kTileOffset) for all lanes; false for the others.
FP8JIT_DEVICE bool first_to_derive(u8* half) {
  u32 tag;
  __builtin_memcpy(&tag, half, 4);
  const u32 want = lane().collectives + 1u;  // never 0, which the driver writes at block start
  if (tag == want) return false;
  __builtin_memcpy(half, &want, 4);
  return true;
}
// Ends the caller's part in a collective.
FP8JIT_DEVICE void exchange_done() { ++lane().collectives; }

// ---- fp8 (OCP e4m3fn and e4m3fnuz) -------------------------------------------------------------
// e4m3fn (OCP OFP8 spec v1.0, "E4M3"): bias 7, no infinities, NaN = S.1111.111, max 448, -0 exists.
// e4m3fnuz (the format of gfx942's fp8 MFMA, AMD CDNA3 ISA "FP8 / BF8" data types): bias 8, no
// infinities, the single NaN 0x80 (no negative zero), max 240.

FP8JIT_DEVICE float fp8_to_float(u8 b, bool fnuz) {
  if (fnuz ? b == 0x80 : (b & 0x7f) == 0x7f) return __builtin_nanf("");
  const u32 sign = static_cast<u32>(b & 0x80) << 24;
  const u32 e = (b >> 3) & 15u, m = b & 7u;
  if (e == 0) {  // subnormal: m * 2^(1 - bias - 3), exact in float
    const float v = static_cast<float>(m) * (fnuz ? 0x1p-10f : 0x1p-9f);
    return sign ? -v : v;
  }
  const u32 bias = fnuz ? 8u : 7u;
  return bits<float>(sign | ((e + 127u - bias) << 23) | (m << 20));
}

// Round to nearest even, saturating to the largest finite value (infinities included: the
// ".satfinite" of PTX cvt and AMD's clamped conversion); NaN -> the format's NaN.
FP8JIT_DEVICE u8 float_to_fp8_sat(float f, bool fnuz) {
  const u32 u = bits<u32>(f);
  const u32 sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return fnuz ? u8(0x80) : u8(0x7f);  // the canonical NaN, sign dropped
  const u32 bias = fnuz ? 8u : 7u, max_code = fnuz ? 0x7fu : 0x7eu;
  u32 code;
  if (a >= ((128u - bias) << 23)) {  // at least the smallest normal 2^(1 - bias)
    const u32 r = a + 0x7ffffu + ((a >> 20) & 1u);  // round the float's mantissa to 3 bits
    code = (r >> 20) - ((127u - bias) << 3);
    if (code > max_code) code = max_code;
  } else {  // subnormal range: a multiple of 2^(-bias - 2), rounded to nearest even
    volatile float x = bits<float>(a) * (fnuz ? 0x1p10f : 0x1p9f);  // exact, < 8
    x = (x + 0x1p23f) - 0x1p23f;
    code = static_cast<u32>(x);  // 8 is the smallest normal, correctly encoded as e=1, m=0
  }
  if (code == 0 && fnuz) return 0;  // no negative zero
  return static_cast<u8>(sign | code);
}

}  // namespace emu

// ---- indices and synchronisation --------------------------------------------------------------

FP8JIT_DEVICE u32 thread_x() { return emu::lane().thread_x; }
FP8JIT_DEVICE u32 block_x() { return emu::lane().block_x; }
FP8JIT_DEVICE u32 block_y() { return emu::lane().block_y; }
FP8JIT_DEVICE u32 block_z() { return emu::lane().block_z; }
FP8JIT_DEVICE u32 block_dim_x() { return emu::lane().block_dim_x; }
FP8JIT_DEVICE u32 grid_dim_x() { return emu::lane().grid_dim_x; }
FP8JIT_DEVICE void barrier() { emu::host().barrier(); }
FP8JIT_DEVICE constexpr int warp_size() { return FP8JIT_EMU_WAVE; }

// ---- global memory ------------------------------------------------------------------------

FP8JIT_DEVICE u32x4 load16(const void* p) { return emu::load<u32x4>(p, "load16"); }
FP8JIT_DEVICE void store16(void* p, u32x4 v) { emu::store(p, v, "store16"); }
FP8JIT_DEVICE u64 load8(const void* p) { return emu::load<u64>(p, "load8"); }
FP8JIT_DEVICE u32 load4(const void* p) { return emu::load<u32>(p, "load4"); }

// ---- 16-bit output types: round to nearest even, as cvt.rn / v_cvt do ------------------------------

FP8JIT_DEVICE u16 float_to_bf16_bits(float f) {
  u32 u = emu::bits<u32>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return FP8JIT_EMU_CANONICAL_NAN ? u16(0x7fff) : static_cast<u16>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<u16>(u >> 16);
}
FP8JIT_DEVICE float bf16_bits_to_float(u16 b) { return emu::bits<float>(static_cast<u32>(b) << 16); }

FP8JIT_DEVICE u16 float_to_fp16_bits(float f) {
  const u32 u = emu::bits<u32>(f);
  const u32 sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  if (a > 0x7f800000u)
    return FP8JIT_EMU_CANONICAL_NAN ? u16(0x7fff) : static_cast<u16>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x477ff000u) return static_cast<u16>(sign | 0x7c00u);  // >= 65520: rounds to infinity
  if (a >= 0x38800000u) {  // a normal half (>= 2^-14)
    u32 r = a - ((127u - 15u) << 23);
    r += 0xfffu + ((r >> 13) & 1u);
    return static_cast<u16>(sign | (r >> 13));
  }
  if (a < 0x33000000u) return static_cast<u16>(sign);  // <= 2^-25: rounds to zero
  const u32 e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
  const u32 shift = 126u - e;  // value / 2^-24 = m >> shift
  u32 q = m >> shift;
  const u32 rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (q & 1u))) ++q;
  return static_cast<u16>(sign | q);
}
FP8JIT_DEVICE float fp16_bits_to_float(u16 b) {
  const u32 sign = static_cast<u32>(b & 0x8000u) << 16, e = (b >> 10) & 31u, m = b & 0x3ffu;
  if (e == 31) return emu::bits<float>(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float v = static_cast<float>(m) * 0x1p-24f;
    return sign ? -v : v;
  }
  return emu::bits<float>(sign | ((e + 112u) << 23) | (m << 13));
}

}  // namespace fp8jit

#include "prelude_out_bits.inc"

namespace fp8jit {

// ---- the launcher entry -----------------------------------------------------------------------
// The renderer follows an emulated kernel with FP8JIT_EMU_ENTRY(name): an exported
// name__fp8jit_emu(void** args) that each fiber calls with the launch's kernel parameters
// (pointers to each argument's value, as cuLaunchKernel takes them).

namespace emu {
template <unsigned... I>
struct Seq {};
template <unsigned N, unsigned... I>
struct MakeSeq : MakeSeq<N - 1, N - 1, I...> {};
template <unsigned... I>
struct MakeSeq<0, I...> {
  using type = Seq<I...>;
};
template <class... P, unsigned... I>
inline void call(void (*kernel)(P...), void** args, Seq<I...>) {
  kernel(*static_cast<P*>(args[I])...);
}
template <class... P>
inline void call(void (*kernel)(P...), void** args) {
  call(kernel, args, typename MakeSeq<sizeof...(P)>::type{});
}
}  // namespace emu

}  // namespace fp8jit

#define FP8JIT_EMU_ENTRY(name)                                                   \
  extern "C" FP8JIT_EMU_EXPORT void name##__fp8jit_emu(void** args) {            \
    fp8jit::emu::call(&name, args);                                              \
  }

// A test hook: the lane whose deposit an emulated matrix atom reads as lane `l`'s. The identity,
// unless a test defines it first to prove that a wrong lane mapping is caught.
#ifndef FP8JIT_EMU_OPERAND_LANE
#define FP8JIT_EMU_OPERAND_LANE(l) (l)
#endif

namespace fp8jit::emu {

// The decoded operands of one emulated matrix atom, shared by the warp / wave: every lane
// deposits `mine`; the first lane past the rendezvous decodes all `lanes` deposits into the Tile
// (decode(tile, lane, its deposit)) in the scratch; every lane gets the Tile. The caller ends the
// collective with exchange_done() once it has read its part.
template <class Tile, class Deposit, class Decode>
FP8JIT_DEVICE const Tile& shared_tile(const Deposit& mine, u32 lanes, Decode decode) {
  static_assert(sizeof(Deposit) <= kDepositBytes && kTileOffset + sizeof(Tile) <= kScratchHalf,
                "emulated matrix operands exceed the warp / wave scratch");
  u8* half = exchange(&mine, sizeof mine);
  Tile* t = reinterpret_cast<Tile*>(half + kTileOffset);
  if (first_to_derive(half)) {
    for (u32 l = 0; l < lanes; ++l) {
      Deposit d;
      __builtin_memcpy(&d, deposit(half, FP8JIT_EMU_OPERAND_LANE(l)), sizeof d);
      decode(*t, l, d);
    }
  }
  return *t;
}

}  // namespace fp8jit::emu

#endif  // FP8JIT_PRELUDE_EMU
