// gemm_sm90.cuh — fp8 PTPC GEMM with wgmma (sm_90a), TMA and an mbarrier pipeline.
//
//   out[m, n] = out_t( sa[m] * sw[n] * sum_k A[m, k] * W[n, k] + bias[n] )
//
// As in gemm_sm89.cuh the product is computed transposed ("swap AB"): the weight rows are the
// wgmma's M side (64 rows per instruction) and the tokens its N side (bm tokens per instruction),
// so the same packed weight (layout nv_mma16x32) serves both families:
//   W: the 16x32 block (nb, kb) is 512 contiguous bytes holding, per lane, the 16-byte A fragment
//      of mma.m16n8k32 — which is also wgmma's register A fragment (prelude_sm90.cuh). TMA sees
//      the packed weight as a [N/16][K/32][128 words] tensor (host-built map, no swizzle), so a
//      stage's bn/16 n-blocks x KU k-blocks are one box, landing n-block-major as [j][u][512
//      bytes]; blocks past N or K arrive as zeros. Consumers read their fragments with one
//      16-byte ld.shared per lane (conflict-free) and issue wgmma with A from registers.
//   A: [M, K] row-major, loaded by TMA (tensor map built by the host per call) as a bm x 128-byte
//      box into shared memory with the 128-byte swizzle; wgmma reads it as its K-major B operand
//      through a matrix descriptor. Rows past M and columns past K arrive as zeros.
//   out: [M, N] row-major; each consumer warpgroup stages its 64 rows x bm tokens in shared
//      memory and writes them as whole 128-byte lines of token rows (masked on M; see store_tile).
// Block: 1 producer warpgroup (one thread issues the two TMA copies of each stage) + warps / 4
// consumer warpgroups; consumer warpgroup c owns FW = bn / (64 warps/4) slabs of 64 weight rows. With two consumer
// warpgroups of 64+ accumulators each, setmaxnreg moves the producer's registers to them (and
// the host launches one block per multiprocessor). Pipeline: `stages` shared-memory stages of
// bk = 128 (A box + W box), a "full" mbarrier (TMA transaction bytes) and an "empty"
// mbarrier (one arrival per consumer thread) per stage. Consumers keep two wgmma groups in
// flight: a stage's fragments load while the previous stage's wgmmas run, on two register
// buffers; a stage goes back to the producer once the group after it has been issued.
// Split-K (split_k = S in {2, 4, 8}): the S CTAs of a thread-block cluster share one tile, each
// taking a contiguous range of its k-tiles; ranks 1.. leave their partial sums in their shared
// memory and rank 0 adds them (distributed shared memory) and runs the epilogue — all of the
// multiprocessors stream weight when N / bn is small, with no workspace and no atomics.
// Multicast (multicast = MC = 2): the MC CTAs of a cluster take MC neighbouring n tiles of one
// token tile, and each copies 1/MC of the stage's token box (bm / MC rows) into the shared memory
// of all of them (TMA multicast): the token tile crosses from L2 once per cluster, not once per
// CTA. A stage then goes back to a producer only when the consumers of every CTA have released
// it (one arrival per consumer warp of the other CTAs, on top of its own consumers'); the CTAs
// start once every barrier of the cluster is initialised and leave together. A cluster's CTA past
// N (N / bn odd) reads the last tile's weight again and stores nothing.
// Ping-pong (pingpong, two consumer warpgroups, persistent): a tile is bn = 64 FW weight rows
// that one consumer warpgroup accumulates alone, and the warpgroups take the block's tiles in
// turn (warpgroup c its tiles c, c + 2, ...). The producer fills the stages in the tiles' order,
// so one warpgroup's main loop runs while the other stores its tile: the epilogue leaves the
// tensor cores busy. A stage goes back to the producer when the warpgroup that read it releases
// it. The main loops take turns through an "order" mbarrier: a warpgroup starts its tile's
// waits only once the other has passed every wait of the tile before, so that no wait on a
// stage's parity runs more than one fill ahead (a parity two fills ahead reads as done).
// Grid: 1-D; tiles (n tile, token tile) are rasterised in groups of kGroupM token tiles so that
// the tiles running at once share their A rows and weight slabs in L2 (with multicast, units of
// MC n tiles). S blocks (one cluster) per tile, except for a persistent config (compiler::wgmma_persistent: split_k = 1, one block
// per multiprocessor, room for the epilogue buffers): min(tiles, multiprocessors) blocks, block
// b taking tiles b, b + grid, ..., its producer filling the next tile's stages during the
// epilogue.
// Programmatic launch (prelude_cuda.cuh): the producer waits for the previous kernel in the stream
// just before its first copy of A, the consumers just before each epilogue (scales, bias, out);
// until then they touch only shared memory the producer's copies fill. (Every thread waiting after
// the barrier cost the bm128_bn256 tiles ~3% at M = 1024 on an H100.) The producer, once it has issued
// its last copy, and (one tile per block) the consumers, once they leave the main loop, let the
// next kernel start. (Asking L2 for the first stages' weight boxes before the wait, as mma_sm89 does,
// measured as fast or slower at M = 16 on an H100.)
// Shared memory (dynamic): stages x (bm + bn) x 128 bytes, then (persistent) warps x bm x 32
// bytes of epilogue buffers, then 16 x stages (barriers) and with ping-pong 16 more (the turns).
// Constraints (KernelSpec::validate): target sm_90a; N % 16 == 0, K % 16 == 0 (the layout pads K
// to a multiple of 32 with zeros; TMA reads A's columns past K as zeros, never from memory);
// warps in {4, 8}; bn = 64 x warps/4 x {1, 2}; bm in {16, 32, ..., 256} with FW x bm <= 256
// (at most 128 accumulator registers per thread: wg_bm256_bn256 would spill); bk = 128; stages in
// [2, 8] within the 227 KiB opt-in limit; split_k in {1, 2, 4, 8} with the bm x bn partial sums
// (4 bytes each) within the stages; multicast in {1, 2}, 2 only with split_k = 1 (never
// persistent); pingpong only with warps = 8, split_k = 1, no multicast, bn = 64 x {1, 2} and the
// epilogue buffers beside the stages. N need not be a multiple of bn, K need not be a multiple of
// bk, nor of bk x split_k (a rank may have no k-tile and then adds zeros).
#pragma once

#include "prelude_sm90.cuh"

namespace fp8jit {

template <class Spec>
struct WgmmaSm90Gemm {
  static constexpr int CW = Spec::warps / 4;               // consumer warpgroups
  static constexpr int kThreads = 128 * (CW + 1);
  static constexpr int kConsumers = 128 * CW;
  static constexpr bool PP = Spec::pingpong;              // warpgroups on alternate whole tiles
  static constexpr int CT = PP ? 1 : CW;                   // consumer warpgroups sharing a tile
  static constexpr int FW = Spec::bn / (64 * CT);          // 64-row slabs per consumer warpgroup
  static constexpr int BT = Spec::bm;                      // tokens per tile (wgmma N)
  static constexpr int KU = Spec::bk / 32;                 // k-blocks per stage
  static constexpr int ST = Spec::stages;
  static constexpr int S = Spec::split_k;                  // CTAs per cluster, one k-range each
  static constexpr long kBlocksK = (Spec::k + 31) / 32;    // k-blocks of the packed weight
  static constexpr long kTilesK = (kBlocksK + KU - 1) / KU;
  static constexpr long kTilesPerSplit = (kTilesK + S - 1) / S;
  static constexpr long kTilesN = (Spec::n + Spec::bn - 1) / Spec::bn;
  static constexpr int MC = Spec::multicast;               // CTAs of a cluster sharing a token tile
  static constexpr long kUnitsN = (kTilesN + MC - 1) / MC; // the grid's units of MC n tiles
  static constexpr int kGroupM = 8;                        // token tiles per raster group
  static constexpr u32 kABytes = BT * 128;                 // per stage (one TMA box)
  static constexpr u32 kWBytes = Spec::bn * Spec::bk;      // per stage (one TMA box)
  // A persistent block (compiler::wgmma_persistent: split_k = 1, two consumer warpgroups that
  // take the producer's registers or play ping-pong, room beside the stages) loops over tiles,
  // one block per multiprocessor, and its producer
  // refills the stages during the epilogue, so the consumer warpgroups' epilogue buffers (BT x
  // 128 bytes each) lie after the stages; otherwise they reuse the stages, free by then.
  static constexpr bool kPersistent = Spec::persistent;
  static constexpr u32 kOutBytes = kPersistent ? CW * BT * 128 : 0;
  static constexpr u32 kSharedBytes = ST * (kABytes + kWBytes) + kOutBytes + 16 * ST + (PP ? 16 : 0);
  static constexpr int kAcc = FW * BT / 2;                 // accumulators per consumer thread
  // Two consumer warpgroups of 64..128 accumulators and two stages of fragments each take the
  // producer's registers (setmaxnreg); the host then launches one block per multiprocessor
  // (compiler::wgmma_moves_registers states the same rule). Smaller tiles need no more than
  // the 168 registers a 384-thread block has, one consumer warpgroup no more than the 255 of a
  // 256-thread block, and both leave room for a second block on the multiprocessor.
  static constexpr bool kMoveRegisters = CW == 2 && kAcc >= 64;
  static_assert(CW * BT * 128 <= ST * (kABytes + kWBytes), "epilogue buffers fit");
  static_assert(S == 1 || 4u * kAcc * kConsumers <= ST * (kABytes + kWBytes),
                "split-K partial sums fit the stages");
  static_assert(Spec::bk == 128, "one 128-byte swizzle atom of k per stage");
  static_assert(FW >= 1 && FW * 64 * CT == Spec::bn,
                "bn = 64 x the consumer warpgroups sharing a tile x FW");
  static_assert(!PP || (CW == 2 && kPersistent), "ping-pong: two consumer warpgroups, persistent");
  static_assert(BT % 8 == 0 && BT <= 256 && kABytes % 1024 == 0, "bm: wgmma N, 8-row groups");
  static_assert(kAcc <= 128, "at most 128 accumulators per consumer thread (FW x bm <= 256)");
  static_assert(S == 1 || S == 2 || S == 4 || S == 8, "split_k: a portable cluster size");
  static_assert(!kPersistent || (S == 1 && MC == 1 && (kMoveRegisters || PP)),
                "persistent: one block per SM, no split, no multicast");
  static_assert(MC == 1 || (MC == 2 && S == 1 && BT % 16 == 0),
                "multicast: 2 CTAs, no split, a share of the token box a whole number of 8-row "
                "swizzle atoms");

  // Unit `id` of the grid's order: n_unit over N (MC x bn rows), m_tile over the tokens (BT), in
  // groups of kGroupM token tiles. 32-bit: a 64-bit division is a call, which the consumers of a
  // persistent block would make with their accumulators live.
  static FP8JIT_DEVICE void tile_of(u32 id, u32 tiles_m, u32& n_unit, u32& m_tile) {
    const u32 per_group = u32(kGroupM) * u32(kUnitsN);
    const u32 first = id / per_group * kGroupM;
    const u32 gm = tiles_m - first < u32(kGroupM) ? tiles_m - first : u32(kGroupM);
    const u32 r = id % per_group;
    m_tile = first + r % gm;
    n_unit = r / gm;
  }

  // Pipeline step g (counted over the block's tiles) of a consumer warpgroup: wait for its
  // copies, read this warp's weight fragments into `frag`, issue the step's wgmmas as one group
  // and wait for the group before it, whose fragment buffer is then free and whose stage goes
  // back to the producer (if `release_previous`: not at a tile's first step, whose previous
  // stage the last tile released). (Past K, in the last step of a K that is not a multiple of
  // bk, TMA has zero-filled both boxes, so the wgmmas add nothing.)
  static FP8JIT_DEVICE void consume(float (&acc)[FW][BT / 2], u32x4 (&frag)[FW][KU], u32 a_smem,
                                    u32 w_smem, u32 full_bar, u32 empty_bar, int g,
                                    bool release_previous, u32 cw, u32 wq, u32 lane, u32 mc_rank) {
    const int s = g % ST;
    mbar_wait(full_bar + 8 * s, u32(g / ST) & 1);
#pragma unroll
    for (int f = 0; f < FW; ++f)
#pragma unroll
      for (int u = 0; u < KU; ++u) {
        const u32 j = ((PP ? 0 : cw * FW) + f) * 4 + wq;  // n-block within the tile
        frag[f][u] = load16_shared(w_smem + s * kWBytes + (j * KU + u) * 512 + lane * 16);
      }
    wgmma_fence();
#pragma unroll
    for (int u = 0; u < KU; ++u) {
      const u64 desc = desc_k_sw128(a_smem + s * kABytes + u * 32);
#pragma unroll
      for (int f = 0; f < FW; ++f) WgmmaRs<BT>::mma(acc[f], frag[f][u], desc);
    }
    wgmma_commit();
    wgmma_wait<1>();
    if (release_previous) release(empty_bar, (g - 1) % ST, lane, mc_rank);
  }

  // Hands stage s back to the producer: this thread's reads of it are done (its wgmmas have
  // completed); the proxy fence orders them before the TMA copies that will overwrite it. Every
  // consumer thread arrives: an arrive releases only the arriving thread's own accesses. With
  // multicast the other CTAs' producers write this CTA's token box too: one lane of each warp
  // tells each of them, once the warp's reads are done (the warp's wgmmas, which alone read the
  // token box, completed in the warpgroup's wait).
  static FP8JIT_DEVICE void release(u32 empty_bar, int s, u32 lane, u32 mc_rank) {
    fence_proxy_async_shared();
    mbar_arrive(empty_bar + 8 * s);
    if (MC > 1) {
      sync_warp();
      if (lane < u32(MC) && lane != mc_rank) mbar_arrive_cluster(empty_bar + 8 * s, lane);
    }
  }

  // A barrier of consumer warpgroup cw's 128 threads (ids 3 and 4: constant, so that ptxas does
  // not reserve all 16).
  static FP8JIT_DEVICE void wg_barrier(u32 cw) {
    if (cw == 0)
      named_barrier(3, 128);
    else
      named_barrier(4, 128);
  }

  // Epilogue of one consumer warp: its 16 weight rows of each slab f, for the tile's BT tokens.
  // Lanes g and g ^ 1 (lane ^ 4) trade half of their sums so that each holds two adjacent n of
  // one token (even g token 2t, odd g token 2t + 1); scales, bias and conversion follow. The
  // warpgroup's 64 x BT outputs of the slab then pass through its BT x 128-byte buffer in shared
  // memory (`buf`; 16-byte chunk c of row r kept at chunk c ^ (r % 8), so that the writes and the
  // reads are conflict-free) and leave as whole 128-byte lines, four token rows per warp store: a
  // quarter of the L1 wavefronts of each warp storing its own 16 rows as 32-byte sectors, which
  // measured faster on 31 of 32 points at M = 256 / 1024 on an H100, geomeans +3-4%. Only the
  // warpgroup synchronises.
  static FP8JIT_DEVICE void store_tile(const float (&acc)[FW][BT / 2], const float* sa,
                                       const float* sw, const void* bias_, void* out_, int m,
                                       u32 n_tile, u32 m_tile, u32 buf, u32 cw, u32 wq, u32 lane) {
    using out_t = typename Spec::out_t;
    const u16* bias = static_cast<const u16*>(bias_);
    u8* out = static_cast<u8*>(out_);
    const u32 g = lane / 4, t = lane % 4, odd = g & 1;
    const long m0 = long(m_tile) * BT;
    // Every scale and bias first, in one batch: loaded where they are used, each would wait for
    // its own round trip to memory (the shuffles keep the compiler from hoisting them).
    float scale_a[BT / 8];  // token 8 j + 2 t + odd, the row of buf this lane keeps
#pragma unroll
    for (int j = 0; j < BT / 8; ++j) {
      const long tok = m0 + 8 * j + 2 * t + odd;
      scale_a[j] = tok < m ? sa[tok] : 0.f;
    }
    float scale_w[FW][2][2], b[FW][2][2];  // [f][h][c]: row n0(f) + (g & ~1) + 8 h + c
#pragma unroll
    for (int f = 0; f < FW; ++f)
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const long n = long(n_tile) * Spec::bn + ((PP ? 0 : cw * FW) + f) * 64 + wq * 16 +
                         (g & ~1u) + 8 * h + c;
          scale_w[f][h][c] = n < Spec::n ? sw[n] : 0.f;
          b[f][h][c] = Spec::has_bias && n < Spec::n ? from_out_bits<out_t>(bias[n]) : 0.f;
        }
#pragma unroll
    for (int f = 0; f < FW; ++f) {
      const long n0 = long(n_tile) * Spec::bn + ((PP ? 0 : cw * FW) + f) * 64;  // its rows
      if (n0 >= Spec::n) continue;  // warpgroup-uniform
#pragma unroll
      for (int j = 0; j < BT / 8; ++j) {
        const u32 r = 8 * j + 2 * t + odd;  // the token (row of buf) this lane keeps
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const float x0 = acc[f][4 * j + 2 * h], x1 = acc[f][4 * j + 2 * h + 1];  // tokens +0, +1
          const float theirs = __uint_as_float(shfl_xor(__float_as_uint(odd ? x0 : x1), 4));
          const float lo = odd ? theirs : x0, hi = odd ? x1 : theirs;  // rows n, n + 1
          const float sa_r = scale_a[j];
          const u32 pair =
              to_out_bits<out_t>(lo * sa_r * scale_w[f][h][0] + b[f][h][0]) |
              u32(to_out_bits<out_t>(hi * sa_r * scale_w[f][h][1] + b[f][h][1])) << 16;
          // 16-byte chunk 2 wq + h of the 128-byte row r, stored at chunk (2 wq + h) ^ (r % 8)
          const u32 chunk = (2 * wq + h) ^ (r & 7);
          store4_shared(buf + r * 128 + chunk * 16 + (g >> 1) * 4, pair);
        }
      }
      wg_barrier(cw);
      // Rows r0 .. r0 + 3 per store, all below BT (BT % 8 == 0).
#pragma unroll
      for (u32 r0 = 4 * wq; r0 < u32(BT); r0 += 16) {
        const u32 r = r0 + lane / 8, c = lane % 8;  // row, 16-byte chunk
        const u32x4 v = load16_shared(buf + r * 128 + (c ^ (r & 7)) * 16);
        if (m0 + r < m && n0 + c * 8 < Spec::n)  // a slab can reach past N (N % 64 != 0)
          store16(out + ((m0 + r) * Spec::n + n0 + c * 8) * 2, v);
      }
      wg_barrier(cw);  // before the next slab overwrites buf
    }
  }

  // `w_` is the packed weight that w_map describes (the kernels of every family take it).
  static FP8JIT_DEVICE void run(const void* a_, const float* sa, const void* w_, const float* sw,
                                const void* bias_, void* out_, int m, const TmaMap* a_map,
                                const TmaMap* w_map) {
    extern __shared__ __align__(1024) u8 smem[];
    const u32 a_smem = smem_addr(smem);
    const u32 w_smem = a_smem + ST * kABytes;
    const u32 out_smem = kPersistent ? w_smem + ST * kWBytes : a_smem;  // epilogue buffers
    const u32 full_bar = w_smem + ST * kWBytes + kOutBytes;  // ST barriers of 8 bytes, then ST "empty"
    const u32 empty_bar = full_bar + 8 * ST;
    const u32 order_bar = empty_bar + 8 * ST;  // ping-pong: the main loops' turns

    // Tiles: a persistent block takes tiles b, b + grid, ... and its producer and consumers walk
    // the same sequence of steps through the stages across them. Otherwise the block (with
    // split_k = S > 1: the cluster) takes one tile; each CTA of a cluster a contiguous range of
    // its k-tiles, and rank 0 adds the others' partial sums (read from their shared memory) and
    // runs the epilogue.
    const u32 rank = S > 1 ? cluster_rank() : 0;          // split-K: the k-range
    const u32 mc_rank = MC > 1 ? cluster_rank() : 0;      // multicast: the n tile of the unit
    const u32 tiles_m = (u32(m) + BT - 1) / BT;
    const u32 tiles = tiles_m * u32(kUnitsN);
    const u32 first_tile = block_x() / (S * MC);
    const int kt0 = int(rank * kTilesPerSplit);  // this CTA's first k-tile
    const int kt_end = int(kt0 + kTilesPerSplit < kTilesK ? kt0 + kTilesPerSplit : kTilesK);
    const int steps = kt_end > kt0 ? kt_end - kt0 : 0;  // this CTA's pipeline steps per tile

    const u32 tid = thread_x();
    if (tid == 0) {
      // The tensor maps are kernel parameters, not memory a previous kernel writes: fetched
      // into the descriptor cache now, the first copies do not wait for them.
      prefetch_tma_map(a_map);
      prefetch_tma_map(w_map);
      for (int s = 0; s < ST; ++s) {
        mbar_init(full_bar + 8 * s, 1);
        // (With ping-pong only the warpgroup whose tile the stage holds reads it.)
        mbar_init(empty_bar + 8 * s, kConsumers / (PP ? CW : 1) + (MC - 1) * (kConsumers / 32));
      }
      if (PP) mbar_init(order_bar, 128);  // one warpgroup's arrivals end a turn
      mbar_init_fence();
    }
    if (MC > 1) {  // the other CTAs' copies and arrivals reach this CTA's barriers
      cluster_arrive();
      cluster_wait();
    } else {
      barrier();
    }

    if (tid < 128) {  // producer warpgroup
      if (kMoveRegisters) setmaxnreg_dec<40>();
      if (tid != 0) return;
      grid_dependency_wait();  // before the first copy of A
      // As little work per step as possible: this one thread's issue rate bounds the pipeline.
      int g = 0, s = 0;  // steps issued, and the stage of step g
      u32 phase = 0;     // parity of stage s's fill by step g
      for (u32 tile = first_tile;;) {
        u32 n_unit, m_tile;
        tile_of(tile, tiles_m, n_unit, m_tile);
        u32 n_tile = n_unit * MC + mc_rank;
        if (MC > 1 && n_tile >= u32(kTilesN)) n_tile = u32(kTilesN) - 1;  // past N: stores nothing
        const int nb0 = int(n_tile) * (Spec::bn / 16);  // first n-block of the tile
        for (int i = 0; i < steps; ++i, ++g) {
          if (g >= ST) mbar_wait(empty_bar + 8 * s, phase ^ 1);  // consumers released its last fill
          const int kb = (kt0 + i) * KU;  // first k-block of the step
          const u32 bar = full_bar + 8 * s;
          mbar_arrive_expect_tx(bar, kABytes + kWBytes);
          if (MC > 1)  // this CTA's share of the token box, into every CTA of the cluster
            tma_load_2d_multicast(a_smem + s * kABytes + mc_rank * (kABytes / MC), a_map, kb * 32,
                                  int(m_tile) * BT + int(mc_rank) * (BT / MC), bar,
                                  u16((1u << MC) - 1));
          else
            tma_load_2d(a_smem + s * kABytes, a_map, kb * 32, int(m_tile) * BT, bar);
          tma_load_3d(w_smem + s * kWBytes, w_map, 0, kb, nb0, bar);
          if (++s == ST) s = 0, phase ^= 1;
        }
        if (!kPersistent || (tile += grid_dim_x()) >= tiles) break;
      }
      launch_dependents();
      return;
    }

    // Consumer warpgroups: two buffers of fragments, so that the loads of a stage overlap the
    // wgmmas of the one before.
    if (kMoveRegisters) setmaxnreg_inc<232>();
    const u32 cw = tid / 128 - 1, wq = (tid / 32) % 4, lane = tid % 32;
    const u32 ct = tid - 128;  // consumer thread
    const u32 out_buf = out_smem + cw * BT * 128;  // this warpgroup's epilogue buffer
    // Steps before this warpgroup's first tile (ping-pong: the other warpgroup's tiles come
    // between its own, one tile in two).
    int g = PP ? int(cw) * steps : 0;
    u32 tile = first_tile + (PP ? cw * grid_dim_x() : 0);
    u32 turn = cw;  // ping-pong: this tile's place in the block's order (its turn)
    while (tile < tiles) {
      if (PP && turn > 0) mbar_wait(order_bar, (turn - 1) & 1);  // the tile before is consumed
      float acc[FW][BT / 2];
#pragma unroll
      for (int f = 0; f < FW; ++f)
#pragma unroll
        for (int i = 0; i < BT / 2; ++i) acc[f][i] = 0.f;
      u32x4 frag0[FW][KU], frag1[FW][KU];
      // (Two inlined steps, not a third for an odd tail: that one makes ptxas serialize wgmma.)
      for (int i = 0; i < steps; i += 2) {
        consume(acc, frag0, a_smem, w_smem, full_bar, empty_bar, g + i, i > 0, cw, wq, lane,
                mc_rank);
        if (i + 1 == steps) break;
        consume(acc, frag1, a_smem, w_smem, full_bar, empty_bar, g + i + 1, true, cw, wq, lane,
                mc_rank);
      }
      if (PP) mbar_arrive(order_bar);  // every wait of this tile passed: the other's turn
      wgmma_wait<0>();
#pragma unroll
      for (int f = 0; f < FW; ++f)
#pragma unroll
        for (int j = 0; j < BT / 2; ++j) pin(acc[f][j]);
      g += steps;
      // A block with one tile lets the next kernel start here; a persistent one leaves that to its
      // producer (keeping its consumers' code as it was measured fastest: a trigger there too cost
      // the bm128_bn256 tiles part of a ~3% loss at M = 1024 on an H100).
      if (!kPersistent) launch_dependents();
      // The tile's last stage goes back to the producer, which fills the next tile's while this
      // one is stored; a block with one tile copies nothing after it.
      if (kPersistent && steps > 0) release(empty_bar, (g - 1) % ST, lane, mc_rank);
      // With multicast this CTA sends the others nothing more: its half of the cluster barrier
      // before they leave (whose other half it waits for at its own end).
      if (MC > 1) cluster_arrive();
      u32 n_unit, m_tile;
      tile_of(tile, tiles_m, n_unit, m_tile);
      const u32 n_tile = n_unit * MC + mc_rank;  // past N (a cluster's last CTA): stores nothing

      // Without epilogue buffers of its own, the block waits until every consumer has left the
      // main loop: then all copies have landed and all wgmmas have completed, and the stages'
      // shared memory is free.
      if (!kPersistent) named_barrier(1, kConsumers);
      if (S > 1) {
        // Partial sums as float4 [q][consumer thread] (conflict-free), q = (f, j / 4).
        if (rank != 0) {
#pragma unroll
          for (int f = 0; f < FW; ++f)
#pragma unroll
            for (int j = 0; j < BT / 2; j += 4) {
              const u32 q = f * (BT / 8) + j / 4;
              store16_shared(a_smem + (q * kConsumers + ct) * 16, acc[f][j], acc[f][j + 1],
                             acc[f][j + 2], acc[f][j + 3]);
            }
        }
        cluster_arrive();
        cluster_wait();  // the partial sums of every rank are visible
        if (rank != 0) {
          cluster_arrive();  // ... and stay readable until rank 0 has read them
          cluster_wait();
          return;
        }
#pragma unroll
        for (int f = 0; f < FW; ++f)
#pragma unroll
          for (int j = 0; j < BT / 2; j += 4) {
            const u32 q = f * (BT / 8) + j / 4;
#pragma unroll
            for (u32 r = 1; r < u32(S); ++r) {
              float v[4];
              load16_cluster(a_smem + (q * kConsumers + ct) * 16, r, v);
              acc[f][j] += v[0], acc[f][j + 1] += v[1], acc[f][j + 2] += v[2], acc[f][j + 3] += v[3];
            }
          }
        cluster_arrive();  // done reading the other ranks' shared memory
      }

      // Epilogue: each warpgroup stages its outputs in its own buffer.
      grid_dependency_wait();  // before the scales, the bias and the output
      store_tile(acc, sa, sw, bias_, out_, m, n_tile, m_tile, out_buf, cw, wq, lane);
      if (S > 1 || MC > 1) cluster_wait();  // pairs the last arrive
      if (!kPersistent) break;
      tile += grid_dim_x() * (PP ? 2 : 1);
      if (PP) g += steps, turn += 2;  // the other warpgroup's tile comes between
    }
  }
};

}  // namespace fp8jit
