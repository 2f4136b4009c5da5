// Fuzz target "checkpoint": bytes as a checkpoint file, read with dlc_load
// and dlc_read_host_state against a context of a fixed small model (the
// runtime tests' toy logistic regression, tests/unit/runtime_test_support.h).
// Each input is read twice: as given, and with every checksum it holds made
// right (tests/fuzz/CheckpointBytes.h), so that mutations get past the CRCs
// and reach the code that reads names, shapes, payloads and the host state.
// What must hold, beyond ASan and UBSan staying quiet:
//   - a refused load leaves every variable byte-identical and says why
//     (dlc_error is not empty), and dlc_read_host_state refuses the file too;
//   - an accepted file saves back (dlc_save_host, with the host state read)
//     to exactly its own bytes when it is of the current format, version 2,
//     which has one encoding of a state; a version 1 file saves to one that
//     loads back to the same variables.
#include "runtime/dlc_runtime.h"
#include "tests/fuzz/CheckpointBytes.h"
#include "tests/fuzz/FuzzMain.h"
#include "tests/unit/runtime_test_support.h"

#include <cstdlib>
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
    // In memory when /dev/shm exists: a few small files per input.
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

std::string hex(const std::vector<uint8_t> &bytes) {
  std::string s;
  char b[4];
  for (uint8_t v : bytes) {
    std::snprintf(b, sizeof b, "%02x", v);
    s += b;
  }
  return s;
}

void readOnce(const std::vector<uint8_t> &bytes) {
  Fixture &f = fixture();
  auto fail = [&](const std::string &what) { dlc::fuzz::fail(what, hex(bytes)); };
  toy::writeBytes(f.file, bytes);
  std::vector<uint8_t> before = toy::snapshot(f.ctx);
  int rc = dlc_load(f.ctx, f.file.c_str());
  std::string message = dlc_error(f.ctx);
  void *host = nullptr;
  size_t hostBytes = 0;
  int hostRc = dlc_read_host_state(f.ctx, f.file.c_str(), &host, &hostBytes);
  if (rc != DLC_OK) {
    if (toy::snapshot(f.ctx) != before)
      fail("a refused load changed the variables");
    if (message.empty())
      fail("a refused load gave no message");
    if (hostRc == DLC_OK)
      fail("dlc_read_host_state accepts a file dlc_load refuses: " + message);
    return;
  }
  if (hostRc != DLC_OK)
    fail(std::string("dlc_read_host_state refuses a file dlc_load accepts: ") +
         dlc_error(f.ctx));
  int saved = dlc_save_host(f.ctx, f.saved.c_str(), host, hostBytes);
  std::free(host);
  if (saved != DLC_OK)
    fail(std::string("saving a loaded state failed: ") + dlc_error(f.ctx));
  if (bytes[8] == 2) { // the current format: one encoding of a state
    if (toy::readBytes(f.saved) != bytes)
      fail("an accepted checkpoint saves back to other bytes");
    return;
  }
  std::vector<uint8_t> loaded = toy::snapshot(f.ctx);
  if (dlc_load(f.ctx, f.saved.c_str()) != DLC_OK || toy::snapshot(f.ctx) != loaded)
    fail("a version 1 checkpoint saved again does not load back to the same variables");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  readOnce(bytes);
  std::vector<uint8_t> repaired = bytes;
  dlc::fuzz::repairChecksums(repaired);
  if (repaired != bytes)
    readOnce(repaired);
  return 0;
}
