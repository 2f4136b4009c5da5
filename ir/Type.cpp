#include "ir/Type.h"
#include "ir/SourceLoc.h"

#include <fmt/format.h>

#include <algorithm>

namespace dlc {

const char *dtypeName(DType t) { return t == DType::F32 ? "f32" : "i32"; }

std::optional<DType> parseDType(const std::string &s) {
  if (s == "f32")
    return DType::F32;
  if (s == "i32")
    return DType::I32;
  return std::nullopt;
}

int64_t TensorType::numel() const {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return n;
}

bool withinSizeLimits(const Dims &d) {
  int64_t n = 1;
  for (int64_t x : d) {
    if (x < 1 || x > kMaxTensorElements / n)
      return false;
    n *= x;
  }
  return true;
}

std::string dimsStr(const Dims &d) { return fmt::format("[{}]", fmt::join(d, ", ")); }

std::string TensorType::str() const {
  return fmt::format("{}[{}]", dtypeName(dtype), fmt::join(dims, ", "));
}

std::optional<Dims> broadcastDims(const Dims &a, const Dims &b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::string SourceLoc::str() const {
  if (!known())
    return "";
  return fmt::format("{}:{}:{}", *file, line, col);
}

} // namespace dlc
