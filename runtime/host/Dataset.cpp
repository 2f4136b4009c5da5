// IDX reading (MNIST's format, plain or gzipped, through zlib) and loading an
// MNIST-style split into floats in [0, 1] and int32 labels.
//
// A file whose payload is longer than its header's dims say is refused, like
// a short one: the IDX header is the only record of the shape, so extra bytes
// mean the header and data disagree (a mislabelled or concatenated file), and
// training on a silently misread shape is worse than stopping.
#include "runtime/host/Dataset.h"

#include <fmt/format.h>

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
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
  return fmt::format("0x{:0{}X}", v, digits);
}

std::string dimsText(const std::vector<int64_t> &dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

// `<dir>/<name>.gz` if present, else `<dir>/<name>`; "" if neither exists.
std::string findSplitFile(const std::string &dir, const std::string &name) {
  const std::string base = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
  const std::string gz = fmt::format("{}.gz", base);
  if (fileExists(gz))
    return gz;
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
    error = fmt::format("{}: cannot open: {}", path, errno ? std::strerror(errno) : "out of memory");
    return false;
  }
  gzbuffer(file.get(), 1 << 17);

  uint8_t header[4];
  int64_t got = 0;
  std::string why;
  if (!readFully(file.get(), header, 4, got, why)) {
    error = fmt::format("{}: {}", path, why);
    return false;
  }
  if (got < 4) {
    error = fmt::format("{}: not an IDX file (only {} bytes)", path, got);
    return false;
  }
  const uint32_t magic = uint32_t(header[0]) << 24 | uint32_t(header[1]) << 16 |
                         uint32_t(header[2]) << 8 | header[3];
  if (header[0] != 0 || header[1] != 0) {
    error = fmt::format("{}: not an IDX file (magic {})", path, hex(magic));
    return false;
  }
  if (header[2] != kIdxUnsignedByte) {
    error = fmt::format("{}: unsupported IDX element type {} (magic {}); only unsigned bytes "
                        "(0x08) are supported",
                        path, hex(header[2], 2), hex(magic));
    return false;
  }
  const int rank = header[3];
  if (rank == 0) {
    error = fmt::format("{}: IDX header has no dimensions (magic {})", path, hex(magic));
    return false;
  }

  std::vector<uint8_t> dimBytes(size_t(rank) * 4);
  if (!readFully(file.get(), dimBytes.data(), int64_t(dimBytes.size()), got, why)) {
    error = fmt::format("{}: {}", path, why);
    return false;
  }
  if (got < int64_t(dimBytes.size())) {
    error = fmt::format("{}: truncated IDX header: expected {} header bytes, got {}", path,
                        4 + dimBytes.size(), 4 + got);
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
      error = fmt::format("{}: IDX dims {} are implausibly large", path, dimsText(out.dims));
      return false;
    }
  }

  out.data.resize(size_t(total));
  if (!readFully(file.get(), out.data.data(), total, got, why)) {
    error = fmt::format("{}: {}", path, why);
    return false;
  }
  if (got < total) {
    error = fmt::format("{}: truncated: dims {} need {} payload bytes, got {}", path,
                        dimsText(out.dims), total, got);
    return false;
  }
  uint8_t extra;
  if (!readFully(file.get(), &extra, 1, got, why)) {
    error = fmt::format("{}: {}", path, why);
    return false;
  }
  if (got != 0) {
    error = fmt::format("{}: trailing data after the {}-byte payload of dims {} (header and "
                        "data disagree)",
                        path, total, dimsText(out.dims));
    return false;
  }
  return true;
}

bool loadMnistSplit(const std::string &dir, const std::string &split, Dataset &out,
                    std::string &error) {
  const std::string imageName = fmt::format("{}-images-idx3-ubyte", split);
  const std::string labelName = fmt::format("{}-labels-idx1-ubyte", split);
  const std::string imagePath = findSplitFile(dir, imageName);
  const std::string labelPath = findSplitFile(dir, labelName);
  if (imagePath.empty() || labelPath.empty()) {
    error = fmt::format("no {}/{}[.gz] (expected MNIST IDX files for split '{}')", dir,
                        imagePath.empty() ? imageName : labelName, split);
    return false;
  }

  IdxArray images, labels;
  if (!readIdx(imagePath, images, error) || !readIdx(labelPath, labels, error))
    return false;
  if (images.dims.size() != 3) {
    error = fmt::format("{}: expected images of rank 3 (magic 0x00000803), got dims {}",
                        imagePath, dimsText(images.dims));
    return false;
  }
  if (labels.dims.size() != 1) {
    error = fmt::format("{}: expected labels of rank 1 (magic 0x00000801), got dims {}",
                        labelPath, dimsText(labels.dims));
    return false;
  }
  if (images.dims[0] != labels.dims[0]) {
    error = fmt::format("{} has {} images but {} has {} labels", imagePath, images.dims[0],
                        labelPath, labels.dims[0]);
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

namespace {

bool endsWith(const std::string &s, const char *suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool readWholeFile(const std::string &path, std::string &bytes, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// The value of `key` in a .npy header dict: "'descr': '<f4'" gives "'<f4'".
std::string npyField(const std::string &header, const std::string &key) {
  const size_t at = header.find(fmt::format("'{}'", key));
  if (at == std::string::npos)
    return "";
  size_t from = header.find(':', at);
  if (from == std::string::npos)
    return "";
  ++from;
  while (from < header.size() && header[from] == ' ')
    ++from;
  size_t to = from;
  if (to < header.size() && header[to] == '(')
    to = header.find(')', to);
  else
    to = header.find_first_of(",}", to) - 1;
  return to == std::string::npos ? "" : header.substr(from, to - from + 1);
}

// A .npy file's array, its values still in the file's bytes.
struct NpyArray {
  std::string bytes;  // the whole file
  size_t dataAt = 0;  // where the values start
  std::string descr, shape; // as the header writes them: "'<f4'", "(300, 28, 28)"
  enum Kind { F32, F64, U8, I32, I64 } kind = F32;
  size_t elementBytes = 0;
  std::vector<int64_t> dims;
  int64_t total = 0;
  // Value k as it is in the file (uint8 not scaled).
  double at(int64_t k) const {
    const char *p = bytes.data() + dataAt + size_t(k) * elementBytes;
    uint64_t u = 0;
    for (size_t b = 0; b < elementBytes; ++b)
      u |= uint64_t(uint8_t(p[b])) << (8 * b);
    switch (kind) {
    case F32: {
      const uint32_t w = uint32_t(u);
      float v;
      std::memcpy(&v, &w, 4);
      return v;
    }
    case F64: {
      double d;
      std::memcpy(&d, &u, 8);
      return d;
    }
    case U8: return double(u);
    case I32: return double(int32_t(uint32_t(u)));
    case I64: return double(int64_t(u));
    }
    return 0;
  }
};

bool readNpy(const std::string &path, NpyArray &a, std::string &error) {
  std::string &bytes = a.bytes;
  if (!readWholeFile(path, bytes, error))
    return false;
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    error = fmt::format("{}: not a .npy file (no \\x93NUMPY magic)", path);
    return false;
  }
  const int major = uint8_t(bytes[6]);
  const size_t lenBytes = major == 1 ? 2 : 4;
  if (major < 1 || major > 3 || bytes.size() < 8 + lenBytes) {
    error = fmt::format("{}: unsupported .npy version {}", path, major);
    return false;
  }
  size_t headerLen = 0;
  for (size_t i = 0; i < lenBytes; ++i)
    headerLen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
  const size_t dataAt = 8 + lenBytes + headerLen;
  if (dataAt > bytes.size()) {
    error = fmt::format("{}: truncated .npy header", path);
    return false;
  }
  const std::string header = bytes.substr(8 + lenBytes, headerLen);
  const std::string descr = npyField(header, "descr"), order = npyField(header, "fortran_order"),
                    shape = npyField(header, "shape");
  a.dataAt = dataAt;
  a.descr = descr;
  a.shape = shape;
  if (order != "False") {
    error = fmt::format("{}: a Fortran-order array (save it with np.ascontiguousarray)", path);
    return false;
  }
  size_t elementBytes = 0;
  if (descr == "'<f4'" || descr == "'<i4'")
    elementBytes = 4, a.kind = descr == "'<f4'" ? NpyArray::F32 : NpyArray::I32;
  else if (descr == "'<f8'" || descr == "'<i8'")
    elementBytes = 8, a.kind = descr == "'<f8'" ? NpyArray::F64 : NpyArray::I64;
  else if (descr == "'|u1'")
    elementBytes = 1, a.kind = NpyArray::U8;
  else {
    error = fmt::format("{}: unsupported element type {} (expected float32, float64, uint8, "
                        "int32 or int64, little-endian)",
                        path, descr.empty() ? "(none)" : descr);
    return false;
  }
  std::vector<int64_t> dims;
  std::istringstream in(shape.size() >= 2 ? shape.substr(1, shape.size() - 2) : "");
  std::string part;
  while (std::getline(in, part, ','))
    if (part.find_first_not_of(' ') != std::string::npos)
      dims.push_back(std::atoll(part.c_str()));
  int64_t total = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && total > kMaxIdxBytes / d)) {
      error = fmt::format("{}: implausible shape {}", path, shape);
      return false;
    }
    total *= d;
  }
  if (dims.empty()) {
    error = fmt::format("{}: a scalar, not an array of examples (shape {})", path, shape);
    return false;
  }
  if (bytes.size() - dataAt != size_t(total) * elementBytes) {
    error = fmt::format("{}: shape {} of {} needs {} data bytes, the file has {}", path, shape,
                        descr, size_t(total) * elementBytes, bytes.size() - dataAt);
    return false;
  }
  a.elementBytes = elementBytes;
  a.dims = dims;
  a.total = total;
  return true;
}

bool loadNpy(const std::string &path, Dataset &out, std::string &error) {
  NpyArray a;
  if (!readNpy(path, a, error))
    return false;
  out = Dataset();
  out.count = a.dims[0];
  out.imageDims.assign(a.dims.begin() + 1, a.dims.end());
  out.images.resize(size_t(a.total));
  // Pixels as bytes are scaled to [0, 1], as the IDX images are.
  const bool bytes = a.kind == NpyArray::U8;
  for (int64_t k = 0; k < a.total; ++k)
    out.images[size_t(k)] = bytes ? float(a.at(k)) / 255.0f : float(a.at(k));
  return true;
}

bool loadCsv(const std::string &path, Dataset &out, std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
    return false;
  }
  out = Dataset();
  std::string line;
  int64_t lineNo = 0, width = -1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    std::vector<float> row;
    std::istringstream fields(line);
    std::string field;
    bool numbers = true;
    while (std::getline(fields, field, ',')) {
      char *end = nullptr;
      const double v = std::strtod(field.c_str(), &end);
      while (end && (*end == ' ' || *end == '\t'))
        ++end;
      if (end == field.c_str() || *end != '\0') {
        numbers = false;
        break;
      }
      row.push_back(float(v));
    }
    if (!numbers) {
      if (lineNo == 1 && width < 0)
        continue; // a header
      error = fmt::format("{}:{}: '{}' is not a number", path, lineNo, field);
      return false;
    }
    if (width >= 0 && int64_t(row.size()) != width) {
      error = fmt::format("{}:{}: {} values, the lines before have {}", path, lineNo, row.size(),
                          width);
      return false;
    }
    width = int64_t(row.size());
    out.images.insert(out.images.end(), row.begin(), row.end());
    ++out.count;
  }
  if (out.count == 0) {
    error = fmt::format("{}: no examples", path);
    return false;
  }
  out.imageDims = {width};
  return true;
}

} // namespace

bool loadExamples(const std::string &path, Dataset &out, std::string &error) {
  if (endsWith(path, ".npy"))
    return loadNpy(path, out, error);
  if (endsWith(path, ".csv"))
    return loadCsv(path, out, error);
  IdxArray idx;
  if (!readIdx(path, idx, error))
    return false;
  out = Dataset();
  out.count = idx.dims[0];
  out.imageDims.assign(idx.dims.begin() + 1, idx.dims.end());
  out.images.resize(idx.data.size());
  for (size_t i = 0; i < idx.data.size(); ++i)
    out.images[i] = float(idx.data[i]) / 255.0f;
  return true;
}

bool loadLabels(const std::string &path, std::vector<int32_t> &labels, std::string &error) {
  // The values, as the file holds them (bytes not scaled), and their shape.
  std::vector<double> values;
  std::vector<int64_t> dims;
  std::string where; // "file:line: " for CSV, else "file: "
  std::vector<int64_t> lines;
  if (endsWith(path, ".npy")) {
    NpyArray a;
    if (!readNpy(path, a, error))
      return false;
    dims = a.dims;
    values.resize(size_t(a.total));
    for (int64_t k = 0; k < a.total; ++k)
      values[size_t(k)] = a.at(k);
  } else if (endsWith(path, ".csv")) {
    // As loadCsv reads examples, but the numbers as written: a label of
    // 16777217 must not round to a float.
    std::ifstream in(path);
    if (!in) {
      error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
      return false;
    }
    std::string line;
    int64_t lineNo = 0, width = -1;
    while (std::getline(in, line)) {
      ++lineNo;
      if (!line.empty() && line.back() == '\r')
        line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos)
        continue;
      char *end = nullptr;
      const double v = std::strtod(line.c_str(), &end);
      while (end && (*end == ' ' || *end == '\t'))
        ++end;
      if (end == line.c_str() || *end != '\0') {
        if (lineNo == 1 && width < 0)
          continue; // a header
        error = fmt::format("{}:{}: expected one label per line, got '{}'", path, lineNo, line);
        return false;
      }
      width = 1;
      values.push_back(v);
      lines.push_back(lineNo);
    }
    dims = {int64_t(values.size())};
  } else {
    IdxArray idx;
    if (!readIdx(path, idx, error))
      return false;
    dims = idx.dims;
    values.assign(idx.data.begin(), idx.data.end());
  }
  if (values.empty()) {
    error = fmt::format("{}: no labels", path);
    return false;
  }
  if (dims.size() > 2 || (dims.size() == 2 && dims[1] != 1)) {
    error = fmt::format("{}: expected one label per example (shape [count] or [count, 1]), got {}",
                        path, dimsText(dims));
    return false;
  }
  labels.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!(v >= 0 && v <= 2147483647.0 && v == std::floor(v))) {
      error = fmt::format("{}{} is {:.9g}; expected a class number (a whole number from 0)", path,
                          lines.empty() ? fmt::format(": the label of example {}", i)
                                        : fmt::format(":{}: the label", lines[i]),
                          v);
      return false;
    }
    labels[i] = int32_t(v);
  }
  return true;
}

std::string examplesCsv(const std::vector<float> &values, int64_t count,
                        const std::vector<int64_t> &dims) {
  int64_t size = 1;
  for (int64_t d : dims)
    size *= d;
  std::string text;
  auto out = std::back_inserter(text);
  for (int64_t r = 0; r < count; ++r) {
    for (int64_t k = 0; k < size; ++k)
      fmt::format_to(out, "{}{:.9g}", k ? "," : "", double(values[size_t(r * size + k)]));
    text += "\n";
  }
  return text;
}

bool writeExamples(const std::string &path, const std::vector<float> &values, int64_t count,
                   const std::vector<int64_t> &dims, std::string &error) {
  std::string text;
  int64_t size = 1;
  for (int64_t d : dims)
    size *= d;
  if (endsWith(path, ".npy")) {
    // Python's spelling of the shape tuple: (3,) for one dimension.
    const std::string shape = dims.empty() ? fmt::format("({},)", count)
                                           : fmt::format("({}, {})", count, fmt::join(dims, ", "));
    std::string header =
        fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}", shape);
    // The data starts 64-byte aligned, the header ending in a newline.
    header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
    text = std::string("\x93NUMPY\x01\x00", 8);
    text += char(header.size() & 0xFF);
    text += char(header.size() >> 8);
    text += header;
    for (float v : values) {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      for (int b = 0; b < 4; ++b)
        text += char(uint8_t(u >> (8 * b)));
    }
  } else if (endsWith(path, ".csv")) {
    text = examplesCsv(values, count, dims);
  } else {
    error = fmt::format("{}: expected a .csv or .npy file name for the predictions", path);
    return false;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !out.write(text.data(), std::streamsize(text.size())) || !out.flush()) {
    error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

} // namespace dlc
