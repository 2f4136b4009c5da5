// Fuzz target "checkpoint": bytes as a checkpoint file, loaded with
// dlc_load into a context of a fixed small model (the runtime tests' toy
// logistic regression, tests/unit/runtime_test_support.h). Each input is
// loaded twice: as given, and with its last four bytes replaced by the
// CRC-32 of the rest, so that mutations get past the checksum and reach the
// code that reads names, shapes and payloads. What must hold, beyond ASan
// and UBSan staying quiet:
//   - a refused load leaves every variable byte-identical and says why
//     (dlc_error is not empty);
//   - an accepted load saves back to exactly the bytes it read (the format
//     has one encoding of a state, so anything else was misread).
#include "runtime/dlc_runtime.h"
#include "tests/fuzz/FuzzMain.h"
#include "tests/unit/runtime_test_support.h"

#include <cstring>
#include <unistd.h>

namespace {

struct Fixture {
  toy::ModelBuilder builder{"toy", toy::kBatch};
  dlc_context *ctx = nullptr;
  std::string dir, file, saved;

  Fixture() {
    toy::buildToy(builder);
    ctx = dlc_create(&builder.desc, 1);
    // In memory when /dev/shm exists: two small files per input.
    const char *env = getenv("TMPDIR");
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                       : env && *env                  ? env
                                                      : "/tmp";
    std::string pattern = base + "/dlc-fuzz-ckpt-XXXXXX";
    if (!ctx || !mkdtemp(pattern.data()))
      dlc::fuzz::fail("cannot set up the checkpoint fixture", "");
    dir = pattern;
    file = dir + "/input.ckpt";
    saved = dir + "/saved.ckpt";
  }
  ~Fixture() {
    dlc_destroy(ctx);
    unlink(file.c_str());
    unlink(saved.c_str());
    rmdir(dir.c_str());
  }
};

Fixture &fixture() {
  static Fixture f;
  return f;
}

uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int b = 0; b < 8; ++b)
      c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::string hex(const std::vector<uint8_t> &bytes) {
  std::string s;
  char b[4];
  for (uint8_t v : bytes) {
    std::snprintf(b, sizeof b, "%02x", v);
    s += b;
  }
  return s;
}

void loadOnce(const std::vector<uint8_t> &bytes) {
  Fixture &f = fixture();
  toy::writeBytes(f.file, bytes);
  std::vector<uint8_t> before = toy::snapshot(f.ctx);
  int rc = dlc_load(f.ctx, f.file.c_str());
  if (rc != DLC_OK) {
    if (toy::snapshot(f.ctx) != before)
      dlc::fuzz::fail("a refused load changed the variables", hex(bytes));
    if (!*dlc_error(f.ctx))
      dlc::fuzz::fail("a refused load gave no message", hex(bytes));
    return;
  }
  if (dlc_save(f.ctx, f.saved.c_str()) != DLC_OK)
    dlc::fuzz::fail(std::string("saving a loaded state failed: ") + dlc_error(f.ctx), hex(bytes));
  if (toy::readBytes(f.saved) != bytes)
    dlc::fuzz::fail("an accepted checkpoint saves back to other bytes", hex(bytes));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  loadOnce(bytes);
  if (size >= 4) {
    uint32_t crc = crc32(data, size - 4);
    for (int i = 0; i < 4; ++i)
      bytes[size - 4 + i] = uint8_t(crc >> (8 * i));
    loadOnce(bytes);
  }
  return 0;
}
