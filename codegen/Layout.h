// The LLVM-free layout decisions codegen and the header generator share:
// variables in the state block, the model's signature and batch, and the
// names of the generated C API. (Where intermediates live is the memory
// plan's: ir/BufferIR.h, passes/MemoryPlan.)
#pragma once

#include "ir/Graph.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace dlc::codegen {

constexpr int64_t kAlignment = 64; // state, arena slots: one cache line / AVX-512

inline int64_t alignUp(int64_t v, int64_t a = kAlignment) {
  return (v + a - 1) / a * a;
}

// Variables in Module::vars order, each at a 64-byte-aligned offset.
struct StateLayout {
  std::vector<int64_t> offsets; // parallel to Module::vars
  int64_t bytes = 0;
  int64_t offsetOf(const Module &m, const std::string &var) const;
};
StateLayout layoutState(const Module &m);

// Most bytes a model may need for its variables, and for one entry's arena:
// beyond them `create` would fail on any machine dlc targets, so the model is
// refused when compiled rather than when run.
constexpr int64_t kMaxStateBytes = int64_t(64) << 30, kMaxArenaBytes = int64_t(64) << 30;
// "" when the model's state and every planned arena are within those limits,
// else a message naming the largest variables or the entry.
std::string memoryLimitProblem(const Module &m);

// FNV-1a 64 over each variable's name (with its NUL), dtype (u32 LE), rank
// (u32 LE) and dims (i64 LE): a checkpoint fits a model iff these agree.
uint64_t modelSignature(const Module &m);

// `name` made a C identifier (dots and other characters become '_').
std::string cIdentifier(const std::string &name);
// True for identifiers the generated header cannot use as a name of its own:
// C and C++ keywords, the standard types it names (size_t, int32_t, ...) and
// the dlc_abi.h types it embeds.
bool isReservedCName(const std::string &id);

// One entry point of the generated C API: `<m>_predict` for a non-train
// entry named predict (`<m>_<entry>` for other non-train entries, which also
// take a row count n), `<m>_<entry>` for a train entry (full batch).
struct ApiEntry {
  std::string symbol;
  const Function *fn;
  int index;         // in Module::functions, i.e. dlc_entry_desc order
  bool takesRows;    // non-train entries accept 1..batch rows
};
std::vector<ApiEntry> apiEntries(const Module &m);
// The fixed functions every model has, prefixed with its name.
struct FixedSymbols {
  std::string create, createIn, destroy, save, load, getParam, setParam, setThreads, error,
      metadata;
  std::vector<std::string> all() const {
    return {create,   createIn, destroy,    save,  load,
            getParam, setParam, setThreads, error, metadata};
  }
};
FixedSymbols apiFixedSymbols(const Module &m);
// False + error when the C API cannot be declared as named: the model's name
// is reserved in C/C++ (`typedef struct int int;`), or a function would
// collide with another or with the runtime linked into model.so.
bool checkApiNames(const Module &m, std::string &error);

} // namespace dlc::codegen
