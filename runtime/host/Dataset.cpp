// IDX reading (MNIST's format, plain or gzipped, through zlib) and loading an
// MNIST-style split into floats in [0, 1] and int32 labels.
//
// A file whose payload is longer than its header's dims say is refused, like
// a short one: the IDX header is the only record of the shape, so extra bytes
// mean the header and data disagree (a mislabelled or concatenated file), and
// training on a silently misread shape is worse than stopping.
#include "runtime/host/Dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sys/stat.h>

namespace dlc {

namespace {

constexpr uint8_t kIdxUnsignedByte = 0x08;
constexpr int64_t kMaxIdxBytes = int64_t(1) << 34; // a sanity cap, 16 GiB

struct GzCloser {
  void operator()(gzFile_s *f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// gzread takes an unsigned count; read in chunks so payloads over 4 GiB work
// and a short read is told apart from a zlib error.
bool readFully(gzFile f, uint8_t *dst, int64_t want, int64_t &got, std::string &why) {
  got = 0;
  while (got < want) {
    const unsigned chunk = unsigned(std::min<int64_t>(want - got, 1 << 30));
    const int n = gzread(f, dst + got, chunk);
    if (n < 0) {
      int code = 0;
      why = gzerror(f, &code);
      return false;
    }
    if (n == 0)
      break;
    got += n;
  }
  return true;
}

bool fileExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string hex(uint32_t v, int digits = 8) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

std::string dimsText(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// `<dir>/<name>.gz` if present, else `<dir>/<name>`; "" if neither exists.
std::string findSplitFile(const std::string &dir, const std::string &name) {
  const std::string base = (dir.empty() ? std::string(".") : dir) + "/" + name;
  if (fileExists(base + ".gz"))
    return base + ".gz";
  if (fileExists(base))
    return base;
  return "";
}

} // namespace

int64_t Dataset::exampleSize() const {
  int64_t n = 1;
  for (int64_t d : imageDims)
    n *= d;
  return n;
}

bool readIdx(const std::string &path, IdxArray &out, std::string &error) {
  // gzopen reads plain files transparently, so one path serves both.
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) {
    error = path + ": cannot open: " + (errno ? std::strerror(errno) : "out of memory");
    return false;
  }
  gzbuffer(file.get(), 1 << 17);

  uint8_t header[4];
  int64_t got = 0;
  std::string why;
  if (!readFully(file.get(), header, 4, got, why)) {
    error = path + ": " + why;
    return false;
  }
  if (got < 4) {
    error = path + ": not an IDX file (only " + std::to_string(got) + " bytes)";
    return false;
  }
  const uint32_t magic = uint32_t(header[0]) << 24 | uint32_t(header[1]) << 16 |
                         uint32_t(header[2]) << 8 | header[3];
  if (header[0] != 0 || header[1] != 0) {
    error = path + ": not an IDX file (magic " + hex(magic) + ")";
    return false;
  }
  if (header[2] != kIdxUnsignedByte) {
    error = path + ": unsupported IDX element type " + hex(header[2], 2) + " (magic " +
            hex(magic) + "); only unsigned bytes (0x08) are supported";
    return false;
  }
  const int rank = header[3];
  if (rank == 0) {
    error = path + ": IDX header has no dimensions (magic " + hex(magic) + ")";
    return false;
  }

  std::vector<uint8_t> dimBytes(size_t(rank) * 4);
  if (!readFully(file.get(), dimBytes.data(), int64_t(dimBytes.size()), got, why)) {
    error = path + ": " + why;
    return false;
  }
  if (got < int64_t(dimBytes.size())) {
    error = path + ": truncated IDX header: expected " + std::to_string(4 + dimBytes.size()) +
            " header bytes, got " + std::to_string(4 + got);
    return false;
  }
  out.dims.assign(size_t(rank), 0);
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) {
    const uint8_t *b = &dimBytes[size_t(i) * 4];
    out.dims[size_t(i)] = int64_t(uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 |
                                  uint32_t(b[2]) << 8 | b[3]);
    total *= out.dims[size_t(i)];
    if (total > kMaxIdxBytes) {
      error = path + ": IDX dims " + dimsText(out.dims) + " are implausibly large";
      return false;
    }
  }

  out.data.resize(size_t(total));
  if (!readFully(file.get(), out.data.data(), total, got, why)) {
    error = path + ": " + why;
    return false;
  }
  if (got < total) {
    error = path + ": truncated: dims " + dimsText(out.dims) + " need " +
            std::to_string(total) + " payload bytes, got " + std::to_string(got);
    return false;
  }
  uint8_t extra;
  if (!readFully(file.get(), &extra, 1, got, why)) {
    error = path + ": " + why;
    return false;
  }
  if (got != 0) {
    error = path + ": trailing data after the " + std::to_string(total) +
            "-byte payload of dims " + dimsText(out.dims) +
            " (header and data disagree)";
    return false;
  }
  return true;
}

bool loadMnistSplit(const std::string &dir, const std::string &split, Dataset &out,
                    std::string &error) {
  const std::string imageName = split + "-images-idx3-ubyte";
  const std::string labelName = split + "-labels-idx1-ubyte";
  const std::string imagePath = findSplitFile(dir, imageName);
  const std::string labelPath = findSplitFile(dir, labelName);
  if (imagePath.empty() || labelPath.empty()) {
    error = "no " + dir + "/" + (imagePath.empty() ? imageName : labelName) +
            "[.gz] (expected MNIST IDX files for split '" + split + "')";
    return false;
  }

  IdxArray images, labels;
  if (!readIdx(imagePath, images, error) || !readIdx(labelPath, labels, error))
    return false;
  if (images.dims.size() != 3) {
    error = imagePath + ": expected images of rank 3 (magic 0x00000803), got dims " +
            dimsText(images.dims);
    return false;
  }
  if (labels.dims.size() != 1) {
    error = labelPath + ": expected labels of rank 1 (magic 0x00000801), got dims " +
            dimsText(labels.dims);
    return false;
  }
  if (images.dims[0] != labels.dims[0]) {
    error = imagePath + " has " + std::to_string(images.dims[0]) + " images but " +
            labelPath + " has " + std::to_string(labels.dims[0]) + " labels";
    return false;
  }

  out.count = images.dims[0];
  out.imageDims.assign(images.dims.begin() + 1, images.dims.end());
  out.images.resize(images.data.size());
  for (size_t i = 0; i < images.data.size(); ++i)
    out.images[i] = float(images.data[i]) / 255.0f;
  // Labels are single bytes, so always in 0..255; whether they fit the
  // model's class count is checked by the trainer, which knows the model.
  out.labels.assign(labels.data.begin(), labels.data.end());
  return true;
}

} // namespace dlc
