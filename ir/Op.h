// Op kinds and their static properties, generated from ir/Ops.def.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace dlc {

enum class OpKind {
#define DLC_OP(Enum, Name, Arity, Category, Attrs) Enum,
#include "ir/Ops.def"
};

enum class OpCategory {
  Source,
  Elementwise,
  Broadcast,
  Injective,
  Reduction,
  Contraction,
  Opaque
};

struct OpInfo {
  OpKind kind;
  const char *name;  // text form, e.g. "matmul"
  int arity;         // operand count
  OpCategory category;
  std::vector<std::string> attrs; // attribute names the op accepts
};

const OpInfo &opInfo(OpKind k);
const char *opName(OpKind k);
std::optional<OpKind> opByName(const std::string &name);
const std::vector<OpInfo> &allOps();
const char *categoryName(OpCategory c);

} // namespace dlc
