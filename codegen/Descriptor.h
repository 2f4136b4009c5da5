// A model's dlc_model_desc (runtime/dlc_abi.h) as host data, built from the
// graph IR alone: the one place that decides what the descriptor says.
// Lowering turns it into the constant that model.so and the JIT carry, with
// each entry's function filled in. The compiler also hands it to the runtime
// itself to ask what only the runtime knows before any code exists: how many
// bytes a context takes (the header's <M>_CONTEXT_BYTES) and whether a
// checkpoint fits the model (`-o m.so --weights ckpt`). Here every entry's
// fn is NULL: it describes a model, it cannot run one.
#pragma once

#include "ir/Graph.h"
#include "runtime/dlc_runtime.h"

#include <deque>
#include <string>
#include <vector>

namespace dlc::codegen {

class HostDescriptor {
public:
  explicit HostDescriptor(const Module &m);
  HostDescriptor(const HostDescriptor &) = delete;
  HostDescriptor &operator=(const HostDescriptor &) = delete;

  const dlc_model_desc &desc() const { return desc_; }

private:
  // Deques: the descriptor points into these, so they never move.
  std::deque<std::string> strings_;
  std::deque<std::vector<int64_t>> dims_;
  std::deque<std::vector<dlc_tensor_desc>> tensors_;
  std::deque<std::vector<int32_t>> entryInputs_;
  std::vector<dlc_entry_desc> entries_;
  dlc_model_desc desc_{};

  const char *keep(const std::string &s);
  dlc_tensor_desc tensor(const std::string &name, const TensorType &t);
};

// The state block of `m` (state_bytes) holding the variables of checkpoint
// `path`, checked by the runtime exactly as dlc_load checks any checkpoint.
// False + error (the runtime's message) when the file does not fit the model.
bool loadStateImage(const Module &m, const std::string &path, std::vector<char> &image,
                    std::string &error);

} // namespace dlc::codegen
