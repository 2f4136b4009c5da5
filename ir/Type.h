// Static tensor types: an element type and a fixed shape, e.g. f32[128, 784].
// A scalar is a rank-0 tensor, f32[].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dlc {

enum class DType : uint8_t { F32, I32 };

const char *dtypeName(DType t); // "f32", "i32"
std::optional<DType> parseDType(const std::string &s);
inline int64_t dtypeSize(DType) { return 4; }

using Dims = std::vector<int64_t>;

// The largest tensor dlc accepts, in elements. Far beyond any real model, and
// far enough below 2^63 that byte counts and offsets cannot overflow.
constexpr int64_t kMaxTensorElements = int64_t(1) << 40;

// Whether every dimension is at least 1 and the element count is at most
// kMaxTensorElements (computed without overflow).
bool withinSizeLimits(const Dims &d);

struct TensorType {
  DType dtype = DType::F32;
  Dims dims;

  TensorType() = default;
  TensorType(DType t, Dims d) : dtype(t), dims(std::move(d)) {}
  static TensorType f32(Dims d) { return {DType::F32, std::move(d)}; }
  static TensorType i32(Dims d) { return {DType::I32, std::move(d)}; }

  int64_t rank() const { return (int64_t)dims.size(); }
  int64_t numel() const;
  int64_t bytes() const { return numel() * dtypeSize(dtype); }
  bool isScalar() const { return dims.empty(); }
  std::string str() const; // "f32[128, 784]"

  bool operator==(const TensorType &o) const {
    return dtype == o.dtype && dims == o.dims;
  }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
};

std::string dimsStr(const Dims &d); // "[128, 784]"

// numpy broadcasting of two shapes; nullopt when incompatible.
std::optional<Dims> broadcastDims(const Dims &a, const Dims &b);

} // namespace dlc
