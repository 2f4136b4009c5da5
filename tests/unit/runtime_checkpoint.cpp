// Checkpoints: save → load round trips, the file format, atomic writes, and
// refusal of every kind of bad file without touching the context.
#include "tests/unit/runtime_test_support.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <csignal>
#include <limits>
#include <sys/wait.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace toy;

namespace {

// A few SGD steps so params and optimizer state all differ from their init.
void trainSomeSteps(dlc_context *ctx, int steps) {
  float x[kBatch * kFeatures], loss = 0;
  int32_t y[kBatch];
  for (int r = 0; r < kBatch; ++r) {
    y[r] = r % 2;
    x[r * 2] = y[r] ? 1.0f : -1.0f;
    x[r * 2 + 1] = 0.1f * float(r);
  }
  const void *in[] = {y, x};
  void *out[] = {&loss};
  for (int s = 0; s < steps; ++s)
    REQUIRE(dlc_run(ctx, 1, in, out, kBatch) == DLC_OK);
}

uint32_t readU32(const std::vector<uint8_t> &b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 |
         uint32_t(b[at + 3]) << 24;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

uint64_t readU64(const std::vector<uint8_t> &b, size_t at) {
  return uint64_t(readU32(b, at)) | uint64_t(readU32(b, at + 4)) << 32;
}

void writeU32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + size_t(i)] = uint8_t(v >> (8 * i));
}

// The sections of a version 2 file, each as [start, end) with its CRC at
// end, walked as runtime/checkpoint.c documents the format: the header, one
// per variable, the host section.
std::vector<std::pair<size_t, size_t>> sectionsOf(const std::vector<uint8_t> &b) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t at = 12, start = 12;
  auto end = [&] {
    out.push_back({start, at});
    at += 4;
    start = at;
  };
  at += 8;                      // signature
  at += 4 + readU32(b, at);     // name
  const uint32_t vars = readU32(b, at);
  at += 4;
  end();
  for (uint32_t v = 0; v < vars; ++v) {
    at += 4 + readU32(b, at);   // name
    at += 4;                    // dtype
    const uint32_t rank = readU32(b, at);
    at += 4 + 8 * rank;
    at += 8 + readU64(b, at);   // byte count, data
    end();
  }
  at += 8 + readU64(b, at);     // host bytes
  end();
  return out;
}

// Makes every section CRC and the file's CRC right again after an edit.
void fixChecksums(std::vector<uint8_t> &b) {
  for (auto [from, to] : sectionsOf(b))
    writeU32(b, to, uint32_t(crc32(0, b.data() + from, uInt(to - from))));
  writeU32(b, b.size() - 4, uint32_t(crc32(0, b.data(), uInt(b.size() - 4))));
}

// Loads `path` into a fresh toy context and checks it is refused with
// `fragment` in the message and every variable unchanged.
void checkRefused(const std::string &path, int code, const std::string &fragment) {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 5);
  REQUIRE(ctx);
  const std::vector<uint8_t> before = snapshot(ctx);
  CHECK(dlc_load(ctx, path.c_str()) == code);
  const std::string message = dlc_error(ctx);
  CHECK_MESSAGE(contains(message, fragment), message);
  CHECK_MESSAGE(contains(message, path), message);
  CHECK(snapshot(ctx) == before);
  dlc_destroy(ctx);
}

// A checkpoint of the toy model after some training, saved at `path`.
void saveTrainedToy(const std::string &path) {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  trainSomeSteps(ctx, 3);
  REQUIRE(dlc_save(ctx, path.c_str()) == DLC_OK);
  dlc_destroy(ctx);
}

} // namespace

TEST_CASE("checkpoint: save then load restores params and optimizer state exactly") {
  TempDir tmp;
  REQUIRE(!tmp.root().empty());
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *a = dlc_create(&m.desc, 1), *b = dlc_create(&m.desc, 2);
  REQUIRE((a && b));
  trainSomeSteps(a, 3);
  const std::string path = tmp.path("toy.ckpt");
  REQUIRE(dlc_save(a, path.c_str()) == DLC_OK);
  CHECK(snapshot(a) != snapshot(b));
  REQUIRE(dlc_load(b, path.c_str()) == DLC_OK);
  CHECK(snapshot(a) == snapshot(b));
  CHECK(*static_cast<int32_t *>(dlc_var_data(b, 2)) == 3); // the step count came along
  CHECK(std::string(dlc_error(b)).empty());

  // Training both further from the same state stays in lockstep.
  trainSomeSteps(a, 2);
  trainSomeSteps(b, 2);
  CHECK(snapshot(a) == snapshot(b));
  dlc_destroy(a);
  dlc_destroy(b);
}

TEST_CASE("checkpoint: the file layout is magic, version, signature, ..., CRC-32") {
  TempDir tmp;
  const std::string path = tmp.path("toy.ckpt");
  saveTrainedToy(path);
  const std::vector<uint8_t> bytes = readBytes(path);
  REQUIRE(bytes.size() > 24);
  CHECK(std::string(reinterpret_cast<const char *>(bytes.data()), 8) ==
        std::string("DLCCKPT\0", 8));
  CHECK(readU32(bytes, 8) == 2u);
  CHECK(readU32(bytes, 12) == 0x70E5u); // signature, low half
  CHECK(readU32(bytes, 16) == 0u);
  CHECK(readU32(bytes, 20) == 3u); // name length, then "toy"
  CHECK(std::string(reinterpret_cast<const char *>(&bytes[24]), 3) == "toy");
  CHECK(readU32(bytes, 27) == 4u); // variables
  // Every section ends with the standard CRC-32 that zlib computes of it: the
  // header, the toy's 4 variables, the (empty) host section.
  const auto sections = sectionsOf(bytes);
  REQUIRE(sections.size() == 6);
  CHECK(sections[0] == std::make_pair(size_t(12), size_t(31)));
  for (auto [from, to] : sections)
    CHECK(readU32(bytes, to) == uint32_t(crc32(0, bytes.data() + from, uInt(to - from))));
  CHECK(readU64(bytes, sections.back().first) == 0u);
  CHECK(sections.back().second + 8 == bytes.size()); // its CRC, then the file's
  const uLong expected = crc32(0L, bytes.data(), uInt(bytes.size() - 4));
  CHECK(readU32(bytes, bytes.size() - 4) == uint32_t(expected));
  // Atomic write: no temporary file is left behind.
  CHECK(!std::filesystem::exists(path + ".tmp." + std::to_string(getpid())));
}

TEST_CASE("checkpoint: bad files are refused and leave the model unchanged") {
  TempDir tmp;
  const std::string good = tmp.path("good.ckpt");
  saveTrainedToy(good);
  const std::vector<uint8_t> bytes = readBytes(good);

  SUBCASE("missing file") {
    checkRefused(tmp.path("missing.ckpt"), DLC_ERR_IO, "cannot read checkpoint");
  }
  SUBCASE("wrong magic") {
    std::vector<uint8_t> bad = bytes;
    bad[0] = 'X';
    writeBytes(tmp.path("bad.ckpt"), bad);
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT, "not a dlc checkpoint");
  }
  SUBCASE("shorter than the magic") {
    writeBytes(tmp.path("bad.ckpt"), {'D', 'L', 'C'});
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT, "not a dlc checkpoint");
  }
  SUBCASE("a newer format version") {
    std::vector<uint8_t> bad = bytes;
    bad[8] = 3;
    writeBytes(tmp.path("bad.ckpt"), bad);
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT,
                 "checkpoint format version 3 is newer than this dlc reads (1 to 2); load it "
                 "with the dlc that wrote it, or a newer one");
  }
  SUBCASE("truncated") {
    for (size_t keep : {size_t(10), bytes.size() / 2, bytes.size() - 1}) {
      CAPTURE(keep);
      writeBytes(tmp.path("bad.ckpt"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(keep)));
      checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT, "checkpoint is truncated");
    }
  }
  SUBCASE("one flipped byte in the data names its section") {
    const auto sections = sectionsOf(bytes);
    std::vector<uint8_t> bad = bytes;
    bad[sections[4].second - 1] ^= 0x01; // the last byte of step.last_grad
    writeBytes(tmp.path("bad.ckpt"), bad);
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT,
                 "checkpoint checksum mismatch (file corrupt): variable #3 ('step.last_grad')");
    bad = bytes;
    bad[20] ^= 0x01; // the model name's length
    writeBytes(tmp.path("bad.ckpt"), bad);
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT, "checkpoint");
    bad = bytes;
    bad[25] ^= 0x01; // a letter of the model name
    writeBytes(tmp.path("bad.ckpt"), bad);
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT,
                 "checkpoint checksum mismatch (file corrupt): the header");
  }
  SUBCASE("a version 1 file (no section checksums, no host section) still loads") {
    const auto sections = sectionsOf(bytes);
    std::vector<uint8_t> v1(bytes.begin(), bytes.begin() + long(sections[0].second));
    for (size_t s = 1; s + 1 < sections.size(); ++s)
      v1.insert(v1.end(), bytes.begin() + long(sections[s].first),
                bytes.begin() + long(sections[s].second));
    writeU32(v1, 8, 1);
    v1.resize(v1.size() + 4);
    writeU32(v1, v1.size() - 4, uint32_t(crc32(0, v1.data(), uInt(v1.size() - 4))));
    writeBytes(tmp.path("v1.ckpt"), v1);
    ModelBuilder m("toy", kBatch);
    buildToy(m);
    dlc_context *fromV1 = dlc_create(&m.desc, 9), *fromV2 = dlc_create(&m.desc, 8);
    REQUIRE((fromV1 && fromV2));
    REQUIRE_MESSAGE(dlc_load(fromV1, tmp.path("v1.ckpt").c_str()) == DLC_OK, dlc_error(fromV1));
    REQUIRE(dlc_load(fromV2, good.c_str()) == DLC_OK);
    CHECK(snapshot(fromV1) == snapshot(fromV2));
    dlc_destroy(fromV1);
    dlc_destroy(fromV2);
  }
  SUBCASE("trailing bytes after the checksum") {
    std::vector<uint8_t> bad = bytes;
    bad.push_back(0);
    writeBytes(tmp.path("bad.ckpt"), bad);
    checkRefused(tmp.path("bad.ckpt"), DLC_ERR_FORMAT, "checksum mismatch");
  }
  SUBCASE("same variables, different signature") {
    ModelBuilder other("toy", kBatch);
    buildToy(other, /*signature=*/0xBEEF);
    dlc_context *ctx = dlc_create(&other.desc, 1);
    REQUIRE(ctx);
    REQUIRE(dlc_save(ctx, tmp.path("other.ckpt").c_str()) == DLC_OK);
    dlc_destroy(ctx);
    checkRefused(tmp.path("other.ckpt"), DLC_ERR_FORMAT,
                 "checkpoint is for model 'toy' with a different signature");
  }
  SUBCASE("a variable of another shape") {
    ModelBuilder other("toy", kBatch);
    buildToy(other, 0x70E5u, /*wDims=*/{3, 2});
    dlc_context *ctx = dlc_create(&other.desc, 1);
    REQUIRE(ctx);
    REQUIRE(dlc_save(ctx, tmp.path("other.ckpt").c_str()) == DLC_OK);
    dlc_destroy(ctx);
    checkRefused(tmp.path("other.ckpt"), DLC_ERR_FORMAT,
                 "variable 'dense.w' has shape [3, 2] in the checkpoint, expected [2, 2]");
  }
  SUBCASE("a NaN or an infinity under a correct checksum") {
    // The second element of the last variable, step.last_grad (2 x 2
    // floats), is rewritten and the checksums made right again.
    for (uint32_t bits : {0x7FC00000u, 0x7F800000u, 0xFF800000u}) {
      std::vector<uint8_t> bad = bytes;
      writeU32(bad, sectionsOf(bad)[4].second - 12, bits);
      fixChecksums(bad);
      writeBytes(tmp.path("nan.ckpt"), bad);
      checkRefused(tmp.path("nan.ckpt"), DLC_ERR_FORMAT,
                   "variable 'step.last_grad' holds NaN or infinity at element 1 (the "
                   "checkpoint of a diverged run?)");
    }
  }
  SUBCASE("another model") {
    ModelBuilder other("other", kBatch);
    buildToy(other);
    dlc_context *ctx = dlc_create(&other.desc, 1);
    REQUIRE(ctx);
    REQUIRE(dlc_save(ctx, tmp.path("other.ckpt").c_str()) == DLC_OK);
    dlc_destroy(ctx);
    checkRefused(tmp.path("other.ckpt"), DLC_ERR_FORMAT, "checkpoint is for model 'other', not 'toy'");
  }
}

TEST_CASE("checkpoint: variables holding NaN are not saved over a good checkpoint") {
  TempDir tmp;
  const std::string path = tmp.path("model.ckpt");
  saveTrainedToy(path);
  const std::vector<uint8_t> good = readBytes(path);
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  static_cast<float *>(dlc_var_data(ctx, 1))[1] = -std::numeric_limits<float>::infinity();
  CHECK(dlc_save(ctx, path.c_str()) == DLC_ERR_ARG);
  CHECK(std::string(dlc_error(ctx)) ==
        "refusing to save '" + path + "': variable 'dense.b' holds NaN or infinity at "
        "element 1 (a diverged run?), and such a checkpoint could not be loaded");
  CHECK(readBytes(path) == good);
  dlc_destroy(ctx);
}

TEST_CASE("checkpoint: a save removes the temp files of saves that were killed") {
  TempDir tmp;
  const std::string path = tmp.path("model.ckpt");
  // A process that has exited: its pid is free (until reused, which would
  // only keep its file).
  const pid_t gone = fork();
  REQUIRE(gone >= 0);
  if (gone == 0)
    _exit(0);
  int status = 0;
  REQUIRE(waitpid(gone, &status, 0) == gone);
  const std::string stale = path + ".tmp." + std::to_string(gone) + ".0";
  const std::string alive = path + ".tmp." + std::to_string(getppid()) + ".3";
  const std::string other = tmp.path("other.ckpt") + ".tmp." + std::to_string(gone) + ".0";
  const std::string unlike = path + ".tmp.notapid.0";
  for (const std::string &f : {stale, alive, other, unlike})
    writeBytes(f, {1, 2, 3});
  saveTrainedToy(path);
  auto exists = [](const std::string &f) { return access(f.c_str(), F_OK) == 0; };
  CHECK_FALSE(exists(stale));
  CHECK(exists(alive));  // may be a save in flight
  CHECK(exists(other));  // another checkpoint's
  CHECK(exists(unlike)); // not a name a save makes
  CHECK(exists(path));
}

TEST_CASE("checkpoint: a failed save reports why and keeps the previous checkpoint") {
  TempDir tmp;
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);

  CHECK(dlc_save(ctx, (tmp.path("no-such-dir") + "/x.ckpt").c_str()) == DLC_ERR_IO);
  CHECK_MESSAGE(contains(dlc_error(ctx), "cannot write checkpoint"), dlc_error(ctx));
  CHECK_MESSAGE(contains(dlc_error(ctx), "No such file or directory"), dlc_error(ctx));

  const std::string path = tmp.path("toy.ckpt");
  REQUIRE(dlc_save(ctx, path.c_str()) == DLC_OK);
  const std::vector<uint8_t> original = readBytes(path);
  trainSomeSteps(ctx, 1);
  // A write that fails half way (root ignores permissions, so a file size
  // limit does the failing: with SIGXFSZ ignored, write() gets EFBIG).
  struct rlimit saved;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
  void (*oldHandler)(int) = signal(SIGXFSZ, SIG_IGN);
  struct rlimit tiny = saved;
  tiny.rlim_cur = 16;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &tiny) == 0);
  const int rc = dlc_save(ctx, path.c_str());
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, oldHandler);
  CHECK(rc == DLC_ERR_IO);
  CHECK_MESSAGE(contains(dlc_error(ctx), path), dlc_error(ctx));
  CHECK(readBytes(path) == original);
  CHECK(std::distance(std::filesystem::directory_iterator(tmp.root()),
                      std::filesystem::directory_iterator()) == 1); // no temp left
  CHECK(dlc_save(ctx, path.c_str()) == DLC_OK);
  CHECK(readBytes(path) != original);
  CHECK(dlc_save(ctx, "") == DLC_ERR_ARG);
  CHECK(dlc_load(ctx, nullptr) == DLC_ERR_ARG);
  dlc_destroy(ctx);
}

TEST_CASE("checkpoint: a file that is not a checkpoint is never replaced") {
  TempDir tmp;
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 1);
  REQUIRE(ctx);
  // `dlc train model.dl --save model.dl` must not destroy the model's source.
  const std::string source = tmp.path("model.dl");
  const std::vector<uint8_t> text = {'m', 'o', 'd', 'e', 'l', ' ', 'x', '\n'};
  writeBytes(source, text);
  CHECK(dlc_save(ctx, source.c_str()) == DLC_ERR_IO);
  CHECK_MESSAGE(contains(dlc_error(ctx), "not a dlc checkpoint"), std::string(dlc_error(ctx)));
  CHECK(readBytes(source) == text);
  // Nor a device, a pipe or a directory: run as root, `--save /dev/null` once
  // renamed a regular file over the device. A pipe stands in for it here.
  const std::string pipe = tmp.path("pipe");
  REQUIRE(mkfifo(pipe.c_str(), 0600) == 0);
  CHECK(dlc_save(ctx, pipe.c_str()) == DLC_ERR_IO);
  CHECK_MESSAGE(contains(dlc_error(ctx), "is not a regular file"), std::string(dlc_error(ctx)));
  struct stat st;
  REQUIRE(stat(pipe.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  const std::string dir = tmp.path("dir");
  REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  CHECK(dlc_save(ctx, dir.c_str()) == DLC_ERR_IO);
  CHECK_MESSAGE(contains(dlc_error(ctx), "it is a directory"), std::string(dlc_error(ctx)));
  rmdir(dir.c_str());
  // Loading from a pipe is refused at once, not after waiting for a writer.
  CHECK(dlc_load(ctx, pipe.c_str()) == DLC_ERR_IO);
  CHECK_MESSAGE(contains(dlc_error(ctx), "not a regular file"), std::string(dlc_error(ctx)));
  unlink(pipe.c_str());
  // An empty file and an older checkpoint are fine to replace.
  const std::string empty = tmp.path("empty.ckpt");
  writeBytes(empty, {});
  CHECK(dlc_save(ctx, empty.c_str()) == DLC_OK);
  trainSomeSteps(ctx, 1);
  CHECK(dlc_save(ctx, empty.c_str()) == DLC_OK);
  dlc_destroy(ctx);
}

TEST_CASE("checkpoint: contexts saved from two threads to one path never mix") {
  // Each thread has its own context of one model; every save must succeed and
  // the file must always be one whole checkpoint of one of them.
  TempDir tmp;
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *a = dlc_create(&m.desc, 1), *b = dlc_create(&m.desc, 2);
  REQUIRE((a && b));
  const std::vector<uint8_t> stateA = snapshot(a), stateB = snapshot(b);
  const std::string path = tmp.path("shared.ckpt");
  int failedA = 0, failedB = 0;
  auto saveMany = [&](dlc_context *ctx, int &failed) {
    for (int i = 0; i < 60; ++i)
      failed += dlc_save(ctx, path.c_str()) != DLC_OK;
  };
  std::thread ta(saveMany, a, std::ref(failedA)), tb(saveMany, b, std::ref(failedB));
  ta.join();
  tb.join();
  CHECK(failedA == 0);
  CHECK(failedB == 0);
  CHECK_MESSAGE(dlc_load(a, path.c_str()) == DLC_OK, std::string(dlc_error(a)));
  CHECK((snapshot(a) == stateA || snapshot(a) == stateB));
  CHECK(std::distance(std::filesystem::directory_iterator(tmp.root()),
                      std::filesystem::directory_iterator()) == 1); // no temp left
  dlc_destroy(a);
  dlc_destroy(b);
}
