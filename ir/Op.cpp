#include "ir/Op.h"

#include <sstream>

namespace dlc {

static std::vector<std::string> splitAttrs(const char *s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty())
      out.push_back(item);
  return out;
}

const std::vector<OpInfo> &allOps() {
  static const std::vector<OpInfo> table = {
#define DLC_OP(Enum, Name, Arity, Category, Attrs)                            \
  {OpKind::Enum, Name, Arity, OpCategory::Category, splitAttrs(Attrs)},
#include "ir/Ops.def"
  };
  return table;
}

const OpInfo &opInfo(OpKind k) { return allOps()[(size_t)k]; }
const char *opName(OpKind k) { return opInfo(k).name; }

std::optional<OpKind> opByName(const std::string &name) {
  for (const OpInfo &i : allOps())
    if (name == i.name)
      return i.kind;
  return std::nullopt;
}

const char *categoryName(OpCategory c) {
  switch (c) {
  case OpCategory::Source: return "source";
  case OpCategory::Elementwise: return "elementwise";
  case OpCategory::Broadcast: return "broadcast";
  case OpCategory::Injective: return "injective";
  case OpCategory::Reduction: return "reduction";
  case OpCategory::Contraction: return "contraction";
  case OpCategory::Opaque: return "opaque";
  }
  return "?";
}

} // namespace dlc
