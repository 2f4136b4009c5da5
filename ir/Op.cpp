// The op table, built once from ir/Ops.def, and the attribute schema check.
#include "ir/Op.h"
#include "ir/Support.h"

#include <fmt/format.h>

namespace dlc {

namespace {

// Parses Ops.def's schema column: "key: kind, key?: kind". The table is
// compiled in, so a malformed schema is a bug in dlc, found at start-up.
std::vector<AttrSpec> parseSchema(const char *op, const std::string &s) {
  std::vector<AttrSpec> out;
  size_t pos = 0;
  auto trim = [](std::string t) {
    size_t b = t.find_first_not_of(' '), e = t.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
  };
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? s.size() : comma + 1;
    size_t colon = item.find(':');
    if (colon == std::string::npos)
      internalError(fmt::format("Ops.def: {}: schema item '{}' has no kind", op, item));
    AttrSpec a;
    a.name = trim(item.substr(0, colon));
    a.optional = !a.name.empty() && a.name.back() == '?';
    if (a.optional)
      a.name.pop_back();
    std::string kind = trim(item.substr(colon + 1));
    if (kind == "int") a.kind = AttrKind::Int;
    else if (kind == "bool") a.kind = AttrKind::Bool;
    else if (kind == "number") a.kind = AttrKind::Number;
    else if (kind == "ints") a.kind = AttrKind::Ints;
    else if (kind == "string") a.kind = AttrKind::String;
    else internalError(fmt::format("Ops.def: {}: unknown attribute kind '{}'", op, kind));
    out.push_back(a);
  }
  return out;
}

bool hasKind(AttrKind k, const AttrValue &v) {
  switch (k) {
  case AttrKind::Int: return std::holds_alternative<int64_t>(v);
  case AttrKind::Bool:
    return std::holds_alternative<int64_t>(v) &&
           (std::get<int64_t>(v) == 0 || std::get<int64_t>(v) == 1);
  case AttrKind::Number:
    return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
  case AttrKind::Ints: return std::holds_alternative<std::vector<int64_t>>(v);
  case AttrKind::String: return std::holds_alternative<std::string>(v);
  }
  return false;
}

} // namespace

const std::vector<OpInfo> &allOps() {
  using namespace opflags;
  static const std::vector<OpInfo> table = {
#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags)                      \
  {OpKind::Enum, Name, Operands, FusionKind::Kind, parseSchema(Name, Schema), (Flags)},
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

const AttrSpec *OpInfo::findAttr(const std::string &key) const {
  for (const AttrSpec &a : attrs)
    if (a.name == key)
      return &a;
  return nullptr;
}

const char *fusionKindName(FusionKind k) {
  switch (k) {
  case FusionKind::Source: return "source";
  case FusionKind::Elementwise: return "elementwise";
  case FusionKind::Broadcast: return "broadcast";
  case FusionKind::Injective: return "injective";
  case FusionKind::Reduction: return "reduction";
  case FusionKind::RowWise: return "row-wise";
  case FusionKind::Contraction: return "contraction";
  case FusionKind::Opaque: return "opaque";
  }
  return "?";
}

const char *attrKindName(AttrKind k) {
  switch (k) {
  case AttrKind::Int: return "an integer";
  case AttrKind::Bool: return "0 or 1";
  case AttrKind::Number: return "a number";
  case AttrKind::Ints: return "a list of integers";
  case AttrKind::String: return "a string";
  }
  return "?";
}

std::string attrProblem(OpKind op, const std::string &key, const AttrValue &v) {
  const OpInfo &info = opInfo(op);
  const AttrSpec *spec = info.findAttr(key);
  if (!spec) {
    std::vector<std::string> takes;
    for (const AttrSpec &a : info.attrs)
      takes.push_back(a.name);
    if (takes.empty())
      return fmt::format("unexpected attribute '{}' ({} takes none)", key, info.name);
    return fmt::format("unexpected attribute '{}' ({} takes {})", key, info.name,
                       fmt::join(takes, ", "));
  }
  if (!hasKind(spec->kind, v))
    return fmt::format("attribute '{}' must be {}", key, attrKindName(spec->kind));
  return "";
}

std::string attrsProblem(OpKind op, const std::map<std::string, AttrValue> &attrs) {
  for (const auto &[key, v] : attrs)
    if (std::string p = attrProblem(op, key, v); !p.empty())
      return p;
  for (const AttrSpec &a : opInfo(op).attrs)
    if (!a.optional && !attrs.count(a.name))
      return fmt::format("missing attribute '{}'", a.name);
  return "";
}

} // namespace dlc
