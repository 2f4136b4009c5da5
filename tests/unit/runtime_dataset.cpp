// IDX files and MNIST-style splits: plain and gzipped files written here,
// the refusals with their messages, and the installed Fashion-MNIST if any.
#include "runtime/host/Dataset.h"
#include "tests/unit/runtime_test_support.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <string>
#include <vector>

using toy::TempDir;

namespace {

std::vector<uint8_t> idxBytes(uint8_t type, const std::vector<uint32_t> &dims,
                              const std::vector<uint8_t> &payload) {
  std::vector<uint8_t> b = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8)
      b.push_back(uint8_t(d >> shift));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

void writeGz(const std::string &path, const std::vector<uint8_t> &bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = uint8_t(i * 7 + 3);
  return v;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

void checkIdxRefused(const std::string &path, const std::vector<std::string> &fragments) {
  dlc::IdxArray out;
  std::string error;
  CHECK_FALSE(dlc::readIdx(path, out, error));
  CHECK_MESSAGE(contains(error, path), error);
  for (const std::string &f : fragments)
    CHECK_MESSAGE(contains(error, f), error);
}

} // namespace

TEST_CASE("idx: plain and gzipped files read back identically") {
  TempDir tmp;
  const std::vector<uint8_t> payload = pattern(3 * 4 * 5);
  const std::vector<uint8_t> file = idxBytes(0x08, {3, 4, 5}, payload);
  toy::writeBytes(tmp.path("a.idx"), file);
  writeGz(tmp.path("a.idx.gz"), file);
  for (const char *name : {"a.idx", "a.idx.gz"}) {
    CAPTURE(name);
    dlc::IdxArray out;
    std::string error;
    REQUIRE_MESSAGE(dlc::readIdx(tmp.path(name), out, error), error);
    CHECK(out.dims == std::vector<int64_t>{3, 4, 5});
    CHECK(out.data == payload);
  }
}

TEST_CASE("idx: malformed files are refused with the file and the reason") {
  TempDir tmp;
  const std::string path = tmp.path("bad.idx");
  SUBCASE("truncated payload, plain and gzipped") {
    const std::vector<uint8_t> file = idxBytes(0x08, {3, 4, 5}, pattern(50));
    toy::writeBytes(path, file);
    checkIdxRefused(path, {"truncated", "need 60 payload bytes, got 50"});
    writeGz(path + ".gz", file);
    checkIdxRefused(path + ".gz", {"truncated", "need 60 payload bytes, got 50"});
  }
  SUBCASE("truncated header") {
    toy::writeBytes(path, {0, 0, 8, 3, 0, 0, 0, 2});
    checkIdxRefused(path, {"truncated IDX header"});
  }
  SUBCASE("trailing bytes") {
    toy::writeBytes(path, idxBytes(0x08, {2, 2}, pattern(5)));
    checkIdxRefused(path, {"trailing data"});
  }
  SUBCASE("wrong magic") {
    std::vector<uint8_t> file = idxBytes(0x08, {4}, pattern(4));
    file[0] = 0x1F;
    toy::writeBytes(path, file);
    checkIdxRefused(path, {"not an IDX file"});
  }
  SUBCASE("element type other than unsigned byte") {
    toy::writeBytes(path, idxBytes(0x0D, {1}, pattern(4)));
    checkIdxRefused(path, {"unsupported IDX element type 0x0D", "0x00000D01"});
  }
  SUBCASE("missing") {
    checkIdxRefused(tmp.path("nothing.idx"), {"cannot open"});
  }
}

TEST_CASE("mnist: a split loads as [0, 1] floats and int32 labels") {
  TempDir tmp;
  std::vector<uint8_t> pixels = pattern(4 * 2 * 3);
  pixels[0] = 255;
  pixels[1] = 0;
  writeGz(tmp.path("train-images-idx3-ubyte.gz"), idxBytes(0x08, {4, 2, 3}, pixels));
  toy::writeBytes(tmp.path("train-labels-idx1-ubyte"), idxBytes(0x08, {4}, {9, 0, 3, 7}));
  dlc::Dataset data;
  std::string error;
  REQUIRE_MESSAGE(dlc::loadMnistSplit(tmp.root(), "train", data, error), error);
  CHECK(data.count == 4);
  CHECK(data.imageDims == std::vector<int64_t>{2, 3});
  CHECK(data.exampleSize() == 6);
  REQUIRE(data.images.size() == 24);
  CHECK(data.images[0] == 1.0f);
  CHECK(data.images[1] == 0.0f);
  CHECK(data.images[5] == doctest::Approx(pixels[5] / 255.0f));
  CHECK(data.labels == std::vector<int32_t>{9, 0, 3, 7});
}

TEST_CASE("mnist: inconsistent or missing split files are refused by name") {
  TempDir tmp;
  const std::string images = tmp.path("t10k-images-idx3-ubyte");
  const std::string labels = tmp.path("t10k-labels-idx1-ubyte");
  dlc::Dataset data;
  std::string error;

  toy::writeBytes(images, idxBytes(0x08, {4, 2, 3}, pattern(24)));
  CHECK_FALSE(dlc::loadMnistSplit(tmp.root(), "t10k", data, error));
  CHECK_MESSAGE(contains(error, "t10k-labels-idx1-ubyte"), error);

  toy::writeBytes(labels, idxBytes(0x08, {5}, pattern(5)));
  CHECK_FALSE(dlc::loadMnistSplit(tmp.root(), "t10k", data, error));
  CHECK_MESSAGE(contains(error, "4 images"), error);
  CHECK_MESSAGE(contains(error, "5 labels"), error);

  toy::writeBytes(labels, idxBytes(0x08, {4, 1}, pattern(4)));
  CHECK_FALSE(dlc::loadMnistSplit(tmp.root(), "t10k", data, error));
  CHECK_MESSAGE(contains(error, labels), error);
  CHECK_MESSAGE(contains(error, "rank 1"), error);

  toy::writeBytes(images, idxBytes(0x08, {24}, pattern(24)));
  CHECK_FALSE(dlc::loadMnistSplit(tmp.root(), "t10k", data, error));
  CHECK_MESSAGE(contains(error, images), error);
  CHECK_MESSAGE(contains(error, "rank 3"), error);
}

TEST_CASE("mnist: the installed Fashion-MNIST test split loads") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  dlc::Dataset data;
  std::string error;
  if (!std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: no Fashion-MNIST in " << dir);
    return;
  }
  REQUIRE_MESSAGE(dlc::loadMnistSplit(dir, "t10k", data, error), error);
  CHECK(data.count == 10000);
  CHECK(data.imageDims == std::vector<int64_t>{28, 28});
  CHECK(*std::max_element(data.labels.begin(), data.labels.end()) == 9);
  CHECK(*std::min_element(data.labels.begin(), data.labels.end()) == 0);
  CHECK(*std::max_element(data.images.begin(), data.images.end()) <= 1.0f);
  CHECK(*std::min_element(data.images.begin(), data.images.end()) >= 0.0f);
}

namespace {

// A .npy file of version 1.0 with `descr` and `shape` as NumPy writes them.
std::vector<uint8_t> npyBytes(const std::string &descr, const std::string &shape,
                              const std::vector<uint8_t> &payload) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape +
                       ", }";
  header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  std::vector<uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size() & 0xFF),
                            uint8_t(header.size() >> 8)};
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// Little-endian bytes of each value as T.
template <class T> std::vector<uint8_t> leBytes(const std::vector<double> &values) {
  std::vector<uint8_t> b;
  for (double v : values) {
    const T t = T(v);
    const uint8_t *p = reinterpret_cast<const uint8_t *>(&t);
    b.insert(b.end(), p, p + sizeof t);
  }
  return b;
}

void checkLabelsRefused(const std::string &path, const std::string &fragment) {
  std::vector<int32_t> labels;
  std::string error;
  CHECK_FALSE(dlc::loadLabels(path, labels, error));
  CHECK_MESSAGE(contains(error, path), error);
  CHECK_MESSAGE(contains(error, fragment), error);
}

} // namespace

TEST_CASE("labels: .npy of each type, .csv and IDX files give the same labels") {
  TempDir tmp;
  const std::vector<double> values = {3, 0, 9, 1, 255};
  const std::vector<int32_t> want = {3, 0, 9, 1, 255};
  toy::writeBytes(tmp.path("i4.npy"), npyBytes("<i4", "(5,)", leBytes<int32_t>(values)));
  toy::writeBytes(tmp.path("i8.npy"), npyBytes("<i8", "(5, 1)", leBytes<int64_t>(values)));
  toy::writeBytes(tmp.path("u1.npy"), npyBytes("|u1", "(5,)", leBytes<uint8_t>(values)));
  toy::writeBytes(tmp.path("f4.npy"), npyBytes("<f4", "(5,)", leBytes<float>(values)));
  toy::writeBytes(tmp.path("f8.npy"), npyBytes("<f8", "(5, 1)", leBytes<double>(values)));
  const std::string csv = "label\r\n3\r\n0\r\n9\r\n\r\n1\r\n255\r\n";
  toy::writeBytes(tmp.path("y.csv"), std::vector<uint8_t>(csv.begin(), csv.end()));
  writeGz(tmp.path("y.idx.gz"), idxBytes(0x08, {5}, leBytes<uint8_t>(values)));
  for (const char *name : {"i4.npy", "i8.npy", "u1.npy", "f4.npy", "f8.npy", "y.csv", "y.idx.gz"}) {
    INFO(name);
    std::vector<int32_t> labels;
    std::string error;
    REQUIRE_MESSAGE(dlc::loadLabels(tmp.path(name), labels, error), error);
    CHECK(labels == want);
  }
}

TEST_CASE("labels: no class number, several values per example or none are refused") {
  TempDir tmp;
  toy::writeBytes(tmp.path("half.npy"), npyBytes("<f4", "(3,)", leBytes<float>({1, 2.5, 3})));
  checkLabelsRefused(tmp.path("half.npy"),
                     ": the label of example 1 is 2.5; expected a class number (a whole number from 0)");
  toy::writeBytes(tmp.path("neg.npy"), npyBytes("<i4", "(2,)", leBytes<int32_t>({0, -1})));
  checkLabelsRefused(tmp.path("neg.npy"), "the label of example 1 is -1;");
  toy::writeBytes(tmp.path("wide.npy"), npyBytes("<i4", "(2, 3)", leBytes<int32_t>({0, 1, 2, 3, 4, 5})));
  checkLabelsRefused(tmp.path("wide.npy"),
                     ": expected one label per example (shape [count] or [count, 1]), got [2, 3]");
  const std::string pairs = "1\n3,4\n";
  toy::writeBytes(tmp.path("pairs.csv"), std::vector<uint8_t>(pairs.begin(), pairs.end()));
  checkLabelsRefused(tmp.path("pairs.csv"), ":2: expected one label per line, got '3,4'");
  const std::string half = "1\n2\n0.5\n";
  toy::writeBytes(tmp.path("half.csv"), std::vector<uint8_t>(half.begin(), half.end()));
  checkLabelsRefused(tmp.path("half.csv"), ":3: the label is 0.5;");
  toy::writeBytes(tmp.path("empty.csv"), {});
  checkLabelsRefused(tmp.path("empty.csv"), ": no labels");
  writeGz(tmp.path("images.gz"), idxBytes(0x08, {2, 2, 2}, pattern(8)));
  checkLabelsRefused(tmp.path("images.gz"), "got [2, 2, 2]");
  checkLabelsRefused(tmp.path("missing.npy"), "cannot open");
}
