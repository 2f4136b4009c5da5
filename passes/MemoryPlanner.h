// Arena placement for the memory planner: buffers given as live ranges over
// schedule steps get byte offsets in one arena, so that buffers never live at
// the same step may share bytes. It knows nothing of graphs; the planning
// pass turns the buffer IR's allocations into BufferIntervals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

// One arena buffer: `bytes` long, live from schedule step `first` to step
// `last` inclusive (a buffer written by step s and last read by step t has
// first = s, last = t). Two buffers conflict when their step ranges
// intersect; a zero-byte buffer conflicts with nothing.
struct BufferInterval {
  int64_t bytes;
  int first;
  int last;
};

struct ArenaPlacement {
  std::vector<int64_t> offsets; // parallel to the input, multiples of the alignment
  int64_t arenaBytes = 0;       // max over buffers of offset + aligned size
  int64_t lowerBound = 0;       // the largest total of aligned sizes live at one step
  int64_t withoutReuse = 0;     // sum of aligned sizes (every buffer its own bytes)
  std::string order;            // the placement order that won: "size", "lifetime", ...
};

// Best-fit placement (each buffer in the smallest gap that holds it among the
// buffers already placed that conflict with it) tried over several orders,
// keeping the smallest arena. Sizes are rounded up to `alignment`; zero-byte
// buffers get offset 0. Deterministic: ties are broken by input index.
ArenaPlacement placeBuffers(const std::vector<BufferInterval> &buffers, int64_t alignment);

// The smallest possible arena, by exhaustive search: for tests and to measure
// how far placeBuffers is from it. At most kMaxExactBuffers buffers
// (InternalError beyond); well under a second at that size.
constexpr size_t kMaxExactBuffers = 10;
int64_t optimalArenaBytes(const std::vector<BufferInterval> &buffers, int64_t alignment);

} // namespace dlc
