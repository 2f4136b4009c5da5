#include "ir/RowIndependence.h"

#include "ir/BufferIR.h"
#include "ir/OpRules.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace dlc {

namespace {

// Rowed values lead with the batch or a multiple of it: a convolution
// reshapes [n, h, w, c] patches to [n * h * w, k] rows for its matmul, and
// row i of the batch still owns a contiguous block of g = dims[0] / batch
// leading rows, so loops over the leading dim run to rows * g.
bool leadsWithBatch(const TensorType &t, int64_t batch) {
  return t.rank() >= 1 && t.dims[0] % batch == 0;
}

// Why n, some of whose operands are rowed (`rowed(i)`), does not keep row i
// of its result to row i of those operands; "" when it does. Operands that
// are not rowed are the same for every row, so they may be read anyhow.
std::string mixesRows(const Node &n, const std::function<bool(size_t)> &rowed, int64_t batch) {
  auto anyRowed = [&](std::initializer_list<size_t> ops) {
    return std::any_of(ops.begin(), ops.end(), rowed);
  };
  if (!leadsWithBatch(n.type, batch))
    return fmt::format("its result {} does not lead with the batch", n.type.str());
  // Each rowed operand must have its batch dim where the result has it, and
  // as many leading rows per batch row (only a reshape regroups them).
  for (size_t i = 0; i < n.operands.size(); ++i) {
    if (!rowed(i) || n.op == OpKind::Reshape)
      continue;
    const TensorType &t = n.operands[i]->type;
    if (t.rank() >= 1 && t.dims[0] != n.type.dims[0] && t.rank() == n.type.rank() &&
        n.op != OpKind::Slice && n.op != OpKind::Pad)
      return fmt::format("operand %{} {} has other leading rows than its result {}",
                         n.operands[i]->name, t.str(), n.type.str());
  }
  for (size_t i = 0; i < n.operands.size(); ++i)
    if (rowed(i) && n.operands[i]->type.rank() != n.type.rank())
      switch (n.op) {
      case OpKind::Reshape:
      case OpKind::ReduceSum:
      case OpKind::ReduceMean:
      case OpKind::ReduceMax:
      case OpKind::ReduceMaxGrad:
      case OpKind::Gather:
      case OpKind::SparseXent:
      case OpKind::SparseXentGrad:
      case OpKind::Patches:
      case OpKind::PatchesGrad:
        break; // their own rules below
      default:
        return fmt::format("operand %{} {} is broadcast across the rows",
                           n.operands[i]->name, n.operands[i]->type.str());
      }
  switch (n.op) {
  case OpKind::Input:
  case OpKind::Var:
  case OpKind::Constant:
    return ""; // sources have no operands
  case OpKind::Reshape:
    // Row-major, the same elements in the same order: with both leading
    // dims multiples of the batch, row i's block of elements stays a block
    // of whole leading rows.
    return "";
  case OpKind::Transpose:
    return n.attrs.getInts("perm").at(0) == 0 ? "" : "it moves the batch dim";
  case OpKind::Slice:
    return n.attrs.getInts("begin").at(0) == 0 &&
                   n.type.dims[0] == n.operands[0]->type.dims[0]
               ? ""
               : "it slices the batch dim";
  case OpKind::Pad:
    return n.attrs.getInts("low").at(0) == 0 && n.attrs.getInts("high").at(0) == 0
               ? ""
               : "it pads the batch dim";
  case OpKind::Concat:
    return n.attrs.getInt("axis") != 0 ? "" : "it concatenates along the batch dim";
  case OpKind::Patches:
  case OpKind::PatchesGrad:
    return ""; // windows of one image each: [n, h, w, c] <-> [n, oh, ow, k]
  case OpKind::Broadcast:
  case OpKind::Dropout: // element i's mask depends on i alone: row i keeps its own
    return "";
  case OpKind::Gather: // gather(table, ids): the ids' row i picks result row i
    return rowed(0) ? "it indexes rows of a table computed from the batch" : "";
  case OpKind::GatherGrad:
    return "it sums rows into a table";
  case OpKind::ReduceSum:
  case OpKind::ReduceMean:
  case OpKind::ReduceMax:
  case OpKind::ReduceMaxGrad: {
    const std::vector<int64_t> &axes = n.attrs.getInts("axes");
    return std::find(axes.begin(), axes.end(), 0) == axes.end() ? ""
                                                                : "it reduces over the batch";
  }
  case OpKind::Softmax:
  case OpKind::SoftmaxGrad:
  case OpKind::LogSoftmax:
    return rowAxis(n) != 0 ? "" : "its rows run along the batch";
  case OpKind::SparseXent:
  case OpKind::SparseXentGrad:
    return ""; // one row of logits and its label per result row
  case OpKind::MatMul:
    if (anyRowed({1}))
      return "its right operand depends on the batch";
    return n.attrs.getInt("transpose_a", 0) ? "it contracts over the batch" : "";
#define DLC_OP(Enum, Name, Operands, Kind, Schema, Flags) DLC_MAP_CASE_##Kind(Enum)
#include "ir/Ops.def"
    return ""; // element i of a map reads element i (or a broadcast) of each operand
  }
  return "an unknown op";
}

bool computesRowsOf(const Kernel &k, const std::unordered_set<const Node *> &rowed) {
  auto isRowed = [&](const Node *n) { return rowed.count(n) > 0; };
  return std::any_of(k.nodes.begin(), k.nodes.end(), isRowed) ||
         std::any_of(k.prologue.begin(), k.prologue.end(), isRowed);
}

// The buffer-IR half: see the header.
std::string planMixesRows(const Function &f, const std::unordered_set<const Node *> &rowed) {
  const Plan &p = f.plan;
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const Kernel &kern = p.kernels[k];
    auto isRowed = [&](const Node *n) { return rowed.count(n) > 0; };
    if (!computesRowsOf(kern, rowed))
      continue;
    if (kern.anchor && !isRowed(kern.anchor))
      return fmt::format("kernel k{} computes rows after %{}, which depends on no row", k,
                         kern.anchor->name);
    // Hoisted scalars are computed once, whole, before any row.
    for (const Node *s : kern.stores)
      if (!isRowed(s) && std::find(kern.hoisted.begin(), kern.hoisted.end(), s) ==
                             kern.hoisted.end())
        return fmt::format("kernel k{} computes rows and stores %{}, which depends on no row",
                           k, s->name);
  }
  for (const auto &[node, buffer] : p.bufferOf) {
    const Buffer &b = p.buffers.at((size_t)buffer);
    if ((b.kind == BufferKind::Input || b.kind == BufferKind::Output) && !rowed.count(node))
      return fmt::format("%{} depends on no row but lives in the caller's {} '{}'", node->name,
                         bufferKindName(b.kind), b.ref);
  }
  return "";
}

} // namespace

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

bool computesRows(const Kernel &k, const RowAnalysis &rows) {
  return rows.independent && computesRowsOf(k, rows.rowed);
}

RowAnalysis analyzeRows(const Function &f, int64_t batch) {
  RowAnalysis r;
  auto dependent = [&](std::string why) {
    r.independent = false;
    r.reason = std::move(why);
    r.rowed.clear();
    return r;
  };
  if (f.isTrain())
    return dependent("a train entry: its update reads the whole batch");
  if (batch <= 1)
    return dependent(batch == 1 ? "the batch is one row" : "the model has no batch dim");
  for (const auto &node : f.nodes) {
    const Node &n = *node;
    if (n.op == OpKind::Input) {
      if (!leadsWithBatch(n.type, batch))
        return dependent(fmt::format("input %{} {} does not lead with the batch", n.name,
                                     n.type.str()));
      r.rowed.insert(&n);
      continue;
    }
    auto rowed = [&](size_t i) { return r.rowed.count(n.operands[i]) > 0; };
    bool any = false;
    for (size_t i = 0; i < n.operands.size(); ++i)
      any = any || rowed(i);
    if (!any)
      continue;
    std::string why = mixesRows(n, rowed, batch);
    if (!why.empty())
      return dependent(fmt::format("%{} = {}: {}", n.name, opName(n.op), why));
    r.rowed.insert(&n);
  }
  for (const auto &[name, n] : f.outputs)
    if (!r.rowed.count(n))
      return dependent(fmt::format("output {} depends on no row", name));
  if (f.plan.planned) {
    std::string why = planMixesRows(f, r.rowed);
    if (!why.empty())
      return dependent(why);
  }
  r.independent = true;
  return r;
}

std::vector<bool> rowedBuffers(const Function &f, const RowAnalysis &rows) {
  std::vector<bool> out(f.plan.buffers.size(), false);
  for (const auto &[node, buffer] : f.plan.bufferOf)
    if (rows.rowed.count(node))
      out.at((size_t)buffer) = true;
  return out;
}

std::vector<std::string> verifyRowGroups(const Function &f, int64_t batch) {
  const Plan &p = f.plan;
  std::vector<std::string> out;
  if (p.groups.empty())
    return out;
  RowAnalysis rows = analyzeRows(f, batch);
  if (!rows.independent) {
    out.push_back(fmt::format("func {}: row groups in an entry whose rows depend on each "
                              "other ({})", f.name, rows.reason));
    return out;
  }
  std::vector<bool> rowed = rowedBuffers(f, rows);
  for (size_t g = 0; g < p.groups.size(); ++g) {
    const RowGroup &grp = p.groups[g];
    for (int c = grp.first; c <= grp.last && c < (int)p.calls.size(); ++c)
      if (!computesRows(p.kernels.at((size_t)p.calls[(size_t)c].kernel), rows))
        out.push_back(fmt::format("func {}: call {} of group {} computes no rows", f.name, c, g));
    for (int b : grp.local)
      if (b >= 0 && b < (int)rowed.size() && !rowed[(size_t)b])
        out.push_back(fmt::format("func {}: b{}, local to group {}, holds no rows", f.name, b, g));
  }
  return out;
}

} // namespace dlc
