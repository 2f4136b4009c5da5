// Where every value of a compiled model lives: variables in the state block,
// intermediates in the entry's arena, inputs in the caller's buffers. Kept
// free of LLVM so the header generator and (later) the memory planner share it.
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

// How the entry function gets at a node's value.
enum class Storage {
  Input, // the caller's inputs[i]
  State, // state + the variable's offset
  Alias, // the operand's storage, reinterpreted (reshape)
  Slot,  // its own arena slot, written by the node's kernel
};
Storage storageOf(const Node &n);
// Follows Alias links to the node that owns the storage.
const Node *storageRoot(const Node *n);

// Arena slots of one entry. Simple bump allocation: every Slot node gets a
// fresh 64-byte-aligned range. The memory planner replaces planArena.
struct ArenaPlan {
  std::unordered_map<const Node *, int64_t> slot; // Storage::Slot nodes
  // Per Function::updates entry: where its value is staged before the state
  // is written, or -1. Staging is needed when the value lives in another
  // variable's state, which an earlier update of this entry may overwrite.
  std::vector<int64_t> updateStage;
  int64_t bytes = 0;
};
ArenaPlan planArena(const Function &f);

// FNV-1a 64 over each variable's name (with its NUL), dtype (u32 LE), rank
// (u32 LE) and dims (i64 LE): a checkpoint fits a model iff these agree.
uint64_t modelSignature(const Module &m);

// The leading dim shared by every model input and every output of the
// non-train entries (those that accept partial batches); 0 if they disagree or
// one is a scalar. Train entries run full batches, so a scalar loss is fine.
int64_t modelBatch(const Module &m);

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
// The fixed functions every model has: create, destroy, save, load, ...
std::vector<std::string> apiFixedSymbols(const Module &m);
// False + error when the C API cannot be declared as named: the model's name
// is reserved in C/C++ (`typedef struct int int;`), or a function would
// collide with another or with the runtime linked into model.so.
bool checkApiNames(const Module &m, std::string &error);

} // namespace dlc::codegen
