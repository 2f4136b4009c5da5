// Graphviz DOT export (`dlc --emit=dot`): one cluster per function, values as
// boxes labelled "name = op" and type, edges from operand to user. Sources
// (inputs, variables, constants) get their own shapes and autodiff's nodes a
// colour, so the forward graph and its adjoint can be told apart at a glance.
#include "ir/Dot.h"

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
    for (size_t i = 0; i < f.nodes.size(); ++i) {
      const Node &n = *f.nodes[i];
      std::string id = fmt::format("{}_n{}", fid, i);
      ids[&n] = id;
      std::string label = fmt::format("{} = {}\n{}", n.name, opName(n.op), n.type.str());
      fmt::format_to(out, "    {} [label={}, {}];\n", id, q(label), nodeStyle(n));
    }
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
