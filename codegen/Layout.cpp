// State layout, arena slot assignment, model signature and batch size.
#include "codegen/Layout.h"
#include "ir/Support.h"

#include <cctype>
#include <set>

namespace dlc::codegen {

int64_t StateLayout::offsetOf(const Module &m, const std::string &var) const {
  for (size_t i = 0; i < m.vars.size(); ++i)
    if (m.vars[i].name == var)
      return offsets[i];
  internalError("codegen: unknown variable '" + var + "'");
}

StateLayout layoutState(const Module &m) {
  StateLayout s;
  for (const VarDecl &v : m.vars) {
    s.offsets.push_back(s.bytes);
    s.bytes += alignUp(v.type.bytes());
  }
  return s;
}

Storage storageOf(const Node &n) {
  switch (n.op) {
  case OpKind::Input: return Storage::Input;
  case OpKind::Var: return Storage::State;
  case OpKind::Reshape: return Storage::Alias; // same bytes, new dims
  default: return Storage::Slot;
  }
}

const Node *storageRoot(const Node *n) {
  while (storageOf(*n) == Storage::Alias)
    n = n->operands[0];
  return n;
}

ArenaPlan planArena(const Function &f) {
  ArenaPlan p;
  for (const auto &n : f.nodes)
    if (storageOf(*n) == Storage::Slot) {
      p.slot[n.get()] = p.bytes;
      p.bytes += alignUp(n->type.bytes());
    }
  for (const auto &[var, value] : f.updates) {
    const Node *root = storageRoot(value);
    bool readsOtherVar = root->op == OpKind::Var &&
                         root->attrs.getString("name") != var;
    p.updateStage.push_back(readsOtherVar ? p.bytes : -1);
    if (readsOtherVar)
      p.bytes += alignUp(value->type.bytes());
  }
  return p;
}

namespace {
struct Fnv1a {
  uint64_t h = 1469598103934665603ull;
  void byte(uint8_t b) { h = (h ^ b) * 1099511628211ull; }
  void bytes(const void *p, size_t n) {
    for (size_t i = 0; i < n; ++i)
      byte(static_cast<const uint8_t *>(p)[i]);
  }
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      byte(uint8_t(v >> (8 * i)));
  }
};
} // namespace

uint64_t modelSignature(const Module &m) {
  Fnv1a f;
  for (const VarDecl &v : m.vars) {
    f.bytes(v.name.c_str(), v.name.size() + 1);
    f.le(uint32_t(v.type.dtype == DType::F32 ? 0 : 1), 4); // DLC_F32 / DLC_I32
    f.le(uint32_t(v.type.rank()), 4);
    for (int64_t d : v.type.dims)
      f.le(uint64_t(d), 8);
  }
  return f.h;
}

int64_t modelBatch(const Module &m) {
  std::vector<const TensorType *> types;
  for (const InputDecl &in : m.inputs)
    types.push_back(&in.type);
  for (const auto &f : m.functions)
    if (!f->isTrain())
      for (const auto &[name, node] : f->outputs)
        types.push_back(&node->type);
  if (types.empty())
    return 0;
  int64_t batch = -1;
  for (const TensorType *t : types) {
    if (t->rank() == 0)
      return 0;
    if (batch == -1)
      batch = t->dims[0];
    else if (batch != t->dims[0])
      return 0;
  }
  return batch;
}

std::string cIdentifier(const std::string &name) {
  std::string s;
  for (char c : name)
    s += (isalnum((unsigned char)c) || c == '_') ? c : '_';
  if (s.empty() || isdigit((unsigned char)s[0]))
    s = "_" + s;
  return s;
}

std::vector<ApiEntry> apiEntries(const Module &m) {
  std::vector<ApiEntry> out;
  std::string prefix = cIdentifier(m.name) + "_";
  for (size_t i = 0; i < m.functions.size(); ++i) {
    const Function &f = *m.functions[i];
    out.push_back({prefix + cIdentifier(f.name), &f, (int)i, !f.isTrain()});
  }
  return out;
}

std::vector<std::string> apiFixedSymbols(const Module &m) {
  std::string p = cIdentifier(m.name) + "_";
  return {p + "create", p + "destroy", p + "save", p + "load", p + "error",
          p + "metadata"};
}

bool checkApiNames(const Module &m, std::string &error) {
  std::set<std::string> seen;
  for (const std::string &s : apiFixedSymbols(m))
    seen.insert(s);
  for (const ApiEntry &e : apiEntries(m))
    if (!seen.insert(e.symbol).second) {
      error = "entry '" + e.fn->name + "' of model '" + m.name +
              "' would define the C function " + e.symbol +
              ", which is already taken; rename the entry";
      return false;
    }
  return true;
}

} // namespace dlc::codegen
