// Op kinds and their static properties, generated from ir/Ops.def, and the
// one check of a node's attributes against its op's schema.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dlc {

enum class OpKind {
#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) Enum,
#include "ir/Ops.def"
};

// How an op's loops may merge with its neighbours' (TVM's op patterns, with
// the row-wise kind made explicit).
enum class FusionKind {
  Source,      // reads an input, a variable or a constant; no loop of its own
  Elementwise, // y[i] = f(x[i]): one operand, same shape
  Broadcast,   // y[i] = f(a[i'], b[i'']) under numpy broadcasting
  Injective,   // moves data (reshape, broadcast, transpose); each y[i] is one x[j]
  Reduction,   // folds whole axes: y drops them (reduce_sum, reduce_mean, reduce_max)
  RowWise,     // each element of a row reads the whole row of one axis
               // (softmax, cross-entropy; for reduce_max_grad, the reduced
               // axes): a reduction and a map over one row, so it may take an
               // elementwise prologue but is not a plain fold
  Contraction, // matmul-like; elementwise consumers may be its epilogue
  Opaque       // anything else: never fused
};
const char *fusionKindName(FusionKind k); // "elementwise", "row-wise", ...

// Attribute values: integers, floats, integer lists (axes), strings (names).
using AttrValue = std::variant<int64_t, double, std::vector<int64_t>, std::string>;

enum class AttrKind {
  Int,    // an integer
  Bool,   // the integer 0 or 1
  Number, // an integer or a float
  Ints,   // a list of integers
  String
};
const char *attrKindName(AttrKind k); // "an integer", "0 or 1", ...

struct AttrSpec {
  std::string name;
  AttrKind kind;
  bool optional;
};

// Ops.def's flags column.
namespace opflags {
constexpr uint32_t Typed = 1u << 0;
constexpr uint32_t View = 1u << 1;
constexpr uint32_t Builtin = 1u << 2;
constexpr uint32_t InPlaceAll = 0xffu << 8;
constexpr uint32_t InPlace(int operand) { return 1u << (8 + operand); }
} // namespace opflags

struct OpInfo {
  OpKind kind;
  const char *name; // text form, e.g. "matmul"
  int operands;     // operand count
  FusionKind fusion;
  std::vector<AttrSpec> attrs;
  uint32_t flags;

  bool typed() const { return flags & opflags::Typed; }
  bool isView() const { return flags & opflags::View; }
  bool isBuiltin() const { return flags & opflags::Builtin; }
  // Whether the result may be written over operand k when the two have the
  // same type (the memory planner's in-place reuse).
  bool mayOverwrite(int k) const {
    return k >= 0 && k < operands && (flags & opflags::InPlace(k));
  }
  // Elementwise or broadcast: its math is one formula (ir/Formulas.h).
  bool isMap() const {
    return fusion == FusionKind::Elementwise || fusion == FusionKind::Broadcast;
  }
  const AttrSpec *findAttr(const std::string &key) const;
};

// Case labels generated from Ops.def, so a switch can give every map op
// (elementwise or broadcast) one arm and still list every op, no default:
//
//   switch (op) {
//   #define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_MAP_CASE_##Kind(Enum)
//   #include "ir/Ops.def"
//     return the map's loop;
//   case OpKind::MatMul: ...
//
// A new elementwise op then needs no new case there; a new op of any other
// kind is a compile error (-Werror=switch) until every switch handles it.
#define DLC_MAP_CASE_Elementwise(E) case ::dlc::OpKind::E:
#define DLC_MAP_CASE_Broadcast(E) case ::dlc::OpKind::E:
#define DLC_MAP_CASE_Source(E)
#define DLC_MAP_CASE_Injective(E)
#define DLC_MAP_CASE_Reduction(E)
#define DLC_MAP_CASE_RowWise(E)
#define DLC_MAP_CASE_Contraction(E)
#define DLC_MAP_CASE_Opaque(E)
// The complement: every op that is not a map.
#define DLC_NONMAP_CASE_Elementwise(E)
#define DLC_NONMAP_CASE_Broadcast(E)
#define DLC_NONMAP_CASE_Source(E) case ::dlc::OpKind::E:
#define DLC_NONMAP_CASE_Injective(E) case ::dlc::OpKind::E:
#define DLC_NONMAP_CASE_Reduction(E) case ::dlc::OpKind::E:
#define DLC_NONMAP_CASE_RowWise(E) case ::dlc::OpKind::E:
#define DLC_NONMAP_CASE_Contraction(E) case ::dlc::OpKind::E:
#define DLC_NONMAP_CASE_Opaque(E) case ::dlc::OpKind::E:

const OpInfo &opInfo(OpKind k);
const char *opName(OpKind k);
std::optional<OpKind> opByName(const std::string &name);
const std::vector<OpInfo> &allOps();

// The schema check, in one place: the verifier, the IR parser and the
// Builder (through inferType) all call it. Each returns "" when all is well,
// else what is wrong: "unexpected attribute 'axis' (reduce_sum takes axes)",
// "attribute 'transpose_a' must be 0 or 1", "missing attribute 'axes'".
// One attribute, for the parser's located errors:
std::string attrProblem(OpKind op, const std::string &key, const AttrValue &v);
// All of a node's attributes, the missing required ones included:
std::string attrsProblem(OpKind op, const std::map<std::string, AttrValue> &attrs);

} // namespace dlc
