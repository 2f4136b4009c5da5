// Graphviz DOT export (`dlc --emit=dot`): one cluster per function, values as
// boxes labelled "name = op" and type, edges from operand to user. Sources
// (inputs, variables, constants) get their own shapes and autodiff's nodes a
// colour, so the forward graph and its adjoint can be told apart at a glance.
// Once fusion has run, each kernel of several nodes is a cluster of its own
// inside its function's, labelled like `--emit=fused` names it.
#include "ir/Dot.h"

#include "ir/BufferIR.h"

#include <fmt/format.h>

#include <iterator>
#include <unordered_map>

namespace dlc {

namespace {

// A DOT double-quoted string; "\n" inside labels is DOT's own line break.
std::string q(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string nodeStyle(const Node &n) {
  if (n.op == OpKind::Input)
    return "shape=invhouse, style=filled, fillcolor=\"#cfe2f3\"";
  if (n.op == OpKind::Var)
    return "shape=cylinder, style=filled, fillcolor=\"#fff2cc\"";
  if (n.op == OpKind::Constant)
    return "shape=ellipse, style=filled, fillcolor=\"#eeeeee\"";
  if (n.gradOf)
    return "shape=box, style=\"rounded,filled\", fillcolor=\"#f4cccc\", color=\"#990000\"";
  return "shape=box, style=rounded";
}

// The root lines of a function (output/update/grad) drawn as small sinks.
void addRoots(std::string &text, const std::string &fid, const char *kind,
              const char *style, const std::vector<std::pair<std::string, Node *>> &list,
              const std::unordered_map<const Node *, std::string> &ids) {
  auto out = std::back_inserter(text);
  for (size_t i = 0; i < list.size(); ++i) {
    auto it = ids.find(list[i].second);
    if (it == ids.end())
      continue;
    std::string id = fmt::format("{}_{}{}", fid, kind, i);
    fmt::format_to(out, "    {} [label={}, {}];\n", id,
                   q(fmt::format("{} {}", kind, list[i].first)), style);
    fmt::format_to(out, "    {} -> {} [style=dashed];\n", it->second, id);
  }
}

} // namespace

std::string toDot(const Module &m) {
  std::string text = fmt::format("digraph {} {{\n", q(m.name));
  auto out = std::back_inserter(text);
  text += "  rankdir=TB;\n";
  text += "  node [fontname=\"monospace\", fontsize=10];\n";
  text += "  edge [fontname=\"monospace\", fontsize=9];\n";
  for (size_t fi = 0; fi < m.functions.size(); ++fi) {
    const Function &f = *m.functions[fi];
    std::string fid = fmt::format("f{}", fi);
    fmt::format_to(out, "  subgraph {} {{\n", q(fmt::format("cluster_{}", f.name)));
    fmt::format_to(out, "    label={};\n    style=rounded;\n", q(fmt::format("func {}", f.name)));
    std::unordered_map<const Node *, std::string> ids;
    for (size_t i = 0; i < f.nodes.size(); ++i)
      ids[f.nodes[i].get()] = fmt::format("{}_n{}", fid, i);
    auto declare = [&](const Node &n, const char *indent) {
      std::string label = fmt::format("{} = {}\n{}", n.name, opName(n.op), n.type.str());
      fmt::format_to(out, "{}{} [label={}, {}];\n", indent, ids.at(&n), q(label),
                     nodeStyle(n));
    };
    // A kernel of one node is that node: only fused groups get a cluster.
    std::unordered_map<const Node *, size_t> kernelOf;
    for (size_t k = 0; k < f.plan.kernels.size(); ++k) {
      const Kernel &kern = f.plan.kernels[k];
      size_t members = kern.nodes.size() + kern.prologue.size() + kern.hoisted.size();
      if (members < 2)
        continue;
      for (const auto *group : {&kern.hoisted, &kern.prologue, &kern.nodes})
        for (const Node *n : *group)
          kernelOf.emplace(n, k);
    }
    for (size_t k = 0; k < f.plan.kernels.size(); ++k) {
      bool any = false;
      for (auto &n : f.nodes) {
        auto it = kernelOf.find(n.get());
        if (it == kernelOf.end() || it->second != k)
          continue;
        if (!any) {
          fmt::format_to(out, "    subgraph {} {{\n", q(fmt::format("cluster_{}_k{}", fid, k)));
          fmt::format_to(out,
                         "      label={};\n      style=\"dashed,filled\";\n"
                         "      fillcolor=\"#f3f6fa\";\n      color=\"#6d8fb3\";\n",
                         q(fmt::format("kernel k{}: {}", k, f.plan.kernels[k].kind())));
          any = true;
        }
        declare(*n, "      ");
      }
      if (any)
        text += "    }\n";
    }
    for (auto &n : f.nodes)
      if (!kernelOf.count(n.get()))
        declare(*n, "    ");
    // Operands from elsewhere (broken IR) are skipped: DOT of a bad module
    // still has to render for the student debugging it.
    for (auto &n : f.nodes)
      for (const Node *o : n->operands)
        if (ids.count(o))
          fmt::format_to(out, "    {} -> {};\n", ids.at(o), ids.at(n.get()));
    addRoots(text, fid, "output", "shape=plaintext", f.outputs, ids);
    addRoots(text, fid, "update", "shape=plaintext, fontcolor=\"#7f6000\"", f.updates, ids);
    addRoots(text, fid, "grad", "shape=plaintext, fontcolor=\"#990000\"", f.grads, ids);
    if (f.train && ids.count(f.train->loss)) {
      fmt::format_to(out, "    {}_loss [label={}, shape=plaintext];\n", fid,
                     q(fmt::format("loss ({})", f.train->optimizer)));
      fmt::format_to(out, "    {} -> {}_loss [style=dashed];\n", ids.at(f.train->loss), fid);
    }
    text += "  }\n";
  }
  return text + "}\n";
}

} // namespace dlc
