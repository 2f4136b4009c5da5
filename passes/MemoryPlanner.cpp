// Arena placement: greedy best fit over a few orders (as in Glow's
// MemoryAllocator, TFLite's arena planner and XLA's heap simulator), and an
// exhaustive search for the optimum that the tests measure the greedy against.
#include "passes/MemoryPlanner.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace dlc {

namespace {

bool conflict(const BufferInterval &a, const BufferInterval &b) {
  return a.first <= b.last && b.first <= a.last;
}

double steps(const BufferInterval &b) { return double(b.last) - b.first + 1; }

std::vector<int64_t> alignedSizes(const std::vector<BufferInterval> &buffers,
                                  int64_t alignment) {
  DLC_ASSERT(alignment > 0, fmt::format("memory planner: alignment {}", alignment));
  std::vector<int64_t> sizes;
  for (const BufferInterval &b : buffers) {
    DLC_ASSERT(b.bytes >= 0 && b.first <= b.last,
               fmt::format("memory planner: bad buffer of {} bytes live [{}, {}]", b.bytes,
                           b.first, b.last));
    sizes.push_back((b.bytes + alignment - 1) / alignment * alignment);
  }
  return sizes;
}

// No arena can be smaller than the bytes live at its busiest step. A sweep
// over starts and ends; a buffer dead after step t is removed before one
// born at t + 1 is added.
int64_t peakLiveBytes(const std::vector<BufferInterval> &buffers,
                      const std::vector<int64_t> &sizes) {
  std::vector<std::pair<int64_t, int64_t>> events; // (step, +size or -size)
  for (size_t i = 0; i < buffers.size(); ++i) {
    events.push_back({buffers[i].first, sizes[i]});
    events.push_back({int64_t(buffers[i].last) + 1, -sizes[i]});
  }
  std::sort(events.begin(), events.end());
  int64_t live = 0, peak = 0;
  for (auto [step, delta] : events)
    peak = std::max(peak, live += delta);
  return peak;
}

// The lowest offset of the smallest gap that holds `size` bytes among the
// byte ranges `taken` (or the top of them all). Best fit rather than first
// fit leaves large gaps whole for the large buffers still to come.
int64_t bestFit(int64_t size, std::vector<std::pair<int64_t, int64_t>> taken) {
  std::sort(taken.begin(), taken.end());
  int64_t cursor = 0, best = -1, bestGap = 0;
  for (auto [lo, hi] : taken) {
    int64_t gap = lo - cursor;
    if (gap >= size && (best < 0 || gap < bestGap))
      best = cursor, bestGap = gap;
    cursor = std::max(cursor, hi); // ranges may overlap: they need not conflict
  }
  return best >= 0 ? best : cursor;
}

std::vector<int64_t> placeInOrder(const std::vector<BufferInterval> &buffers,
                                  const std::vector<int64_t> &sizes,
                                  const std::vector<size_t> &order) {
  std::vector<int64_t> offsets(buffers.size(), 0);
  std::vector<size_t> placed;
  for (size_t i : order) {
    if (sizes[i] == 0)
      continue;
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (size_t j : placed)
      if (conflict(buffers[i], buffers[j]))
        taken.push_back({offsets[j], offsets[j] + sizes[j]});
    offsets[i] = bestFit(sizes[i], std::move(taken));
    placed.push_back(i);
  }
  return offsets;
}

// Branch and bound over canonical packings (see optimalArenaBytes). Buffers
// are placed in increasing (offset, index) order, so every buffer still to
// place lies at or above `floor`, the offset of the last one placed.
struct ExactSearch {
  const std::vector<BufferInterval> &buffers;
  const std::vector<int64_t> &sizes;
  std::vector<int64_t> offset;
  std::vector<bool> placed;
  int64_t best, lowerBound;

  // At each step t, the buffers left that are live at t sit above `floor`
  // and beside the parts above `floor` of the placed ones live at t, so the
  // arena is at least floor plus both. With everything placed this is the
  // arena itself (every buffer's end is counted at its first step).
  int64_t bound(int64_t floor) const {
    int64_t most = 0;
    for (const BufferInterval &at : buffers) {
      int64_t above = 0;
      for (size_t i = 0; i < buffers.size(); ++i)
        if (buffers[i].first <= at.first && at.first <= buffers[i].last)
          above += placed[i] ? std::max<int64_t>(0, offset[i] + sizes[i] - floor) : sizes[i];
      most = std::max(most, floor + above);
    }
    return most;
  }

  bool fits(size_t i, int64_t at) const {
    for (size_t j = 0; j < buffers.size(); ++j)
      if (placed[j] && conflict(buffers[i], buffers[j]) && at < offset[j] + sizes[j] &&
          offset[j] < at + sizes[i])
        return false;
    return true;
  }

  void search(size_t left, int64_t floor, int lastIndex) {
    if (best == lowerBound)
      return;
    int64_t b = bound(floor);
    if (b >= best)
      return;
    if (left == 0) {
      best = b;
      return;
    }
    // Next in (offset, index) order: any buffer left, at 0 or on top of a
    // placed buffer it conflicts with, not below the last one placed.
    std::vector<std::pair<int64_t, size_t>> moves;
    for (size_t i = 0; i < buffers.size(); ++i) {
      if (placed[i])
        continue;
      std::vector<int64_t> at{0};
      for (size_t j = 0; j < buffers.size(); ++j)
        if (placed[j] && conflict(buffers[i], buffers[j]))
          at.push_back(offset[j] + sizes[j]);
      std::sort(at.begin(), at.end());
      at.erase(std::unique(at.begin(), at.end()), at.end());
      for (int64_t a : at)
        if ((a > floor || (a == floor && int(i) > lastIndex)) && fits(i, a))
          moves.push_back({a, i});
    }
    // Lowest first: the first leaf reached is a good packing, which makes
    // the bound prune early.
    std::sort(moves.begin(), moves.end());
    for (auto [a, i] : moves) {
      placed[i] = true, offset[i] = a;
      search(left - 1, a, int(i));
      placed[i] = false;
    }
  }
};

} // namespace

ArenaPlacement placeBuffers(const std::vector<BufferInterval> &buffers, int64_t alignment) {
  std::vector<int64_t> sizes = alignedSizes(buffers, alignment);
  ArenaPlacement result;
  result.lowerBound = peakLiveBytes(buffers, sizes);
  result.withoutReuse = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
  result.offsets.assign(buffers.size(), 0);

  // No order wins everywhere (on random sets each one, left out, loses
  // optima the others do not find): big first packs a few large buffers
  // well, long-lived first keeps the arena's bottom for the buffers that pin
  // it anyway, first (last) use follows the schedule forwards (backwards)
  // like a runtime allocator. Keys sort descending; the second key breaks
  // ties before the index does.
  using Key = std::pair<double, double>; // double: size * lifetime may not fit int64_t
  struct Order {
    const char *name;
    Key (*key)(const BufferInterval &, int64_t size);
  };
  static const Order orders[] = {
      {"size", [](const BufferInterval &b, int64_t s) { return Key(s, steps(b)); }},
      {"lifetime", [](const BufferInterval &b, int64_t s) { return Key(steps(b), s); }},
      {"size*lifetime", [](const BufferInterval &b, int64_t s) { return Key(s * steps(b), s); }},
      {"first use", [](const BufferInterval &b, int64_t s) { return Key(-b.first, s); }},
      {"last use", [](const BufferInterval &b, int64_t s) { return Key(b.last, s); }},
  };
  for (const Order &o : orders) {
    std::vector<size_t> order(buffers.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return o.key(buffers[a], sizes[a]) > o.key(buffers[b], sizes[b]);
    });
    std::vector<int64_t> offsets = placeInOrder(buffers, sizes, order);
    int64_t arena = 0;
    for (size_t i = 0; i < buffers.size(); ++i)
      arena = std::max(arena, offsets[i] + sizes[i]);
    if (result.order.empty() || arena < result.arenaBytes) {
      result.offsets = std::move(offsets);
      result.arenaBytes = arena;
      result.order = o.name;
    }
    if (arena == result.lowerBound)
      break; // cannot do better
  }
  return result;
}

// Why the search is exact (zero-byte buffers left out: they sit at 0). Take
// any optimal packing and move its buffers down, one at a time, each until it
// rests on offset 0 or on the top of a buffer it conflicts with. No move
// creates an overlap or raises the arena, and each lowers the sum of offsets
// (a multiple of the alignment, never negative), so this ends, in an optimal
// packing where every buffer sits at 0 or exactly on a conflicting buffer.
// Listed by increasing (offset, index), each of its buffers sits at 0 or on a
// conflicting buffer listed earlier (which has the lower offset). The search
// enumerates exactly these lists, each once, and prunes a branch only when
// its lower bound reaches the best arena found.
int64_t optimalArenaBytes(const std::vector<BufferInterval> &buffers, int64_t alignment) {
  if (buffers.size() > kMaxExactBuffers)
    internalError(fmt::format("memory planner: exhaustive search over {} buffers (at most {})",
                              buffers.size(), kMaxExactBuffers));
  std::vector<int64_t> sizes = alignedSizes(buffers, alignment);
  // Zero-byte buffers take no part; stacking all the others is a packing.
  std::vector<BufferInterval> real;
  std::vector<int64_t> realSizes;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (sizes[i] > 0)
      real.push_back(buffers[i]), realSizes.push_back(sizes[i]);
  int64_t stacked = std::accumulate(realSizes.begin(), realSizes.end(), int64_t(0));
  ExactSearch s{real, realSizes, std::vector<int64_t>(real.size(), 0),
                std::vector<bool>(real.size(), false), stacked,
                peakLiveBytes(real, realSizes)};
  s.search(real.size(), 0, -1);
  return s.best;
}

} // namespace dlc
