// Graphviz DOT export (`dlc --emit=dot`): one cluster per function, values as
// boxes labelled "name = op" and type, edges from operand to user. Sources
// (inputs, variables, constants) get their own shapes and autodiff's nodes a
// colour, so the forward graph and its adjoint can be told apart at a glance.
#include "ir/Dot.h"

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
void addRoots(std::string &out, const std::string &fid, const char *kind,
              const char *style, const std::vector<std::pair<std::string, Node *>> &list,
              const std::unordered_map<const Node *, std::string> &ids) {
  for (size_t i = 0; i < list.size(); ++i) {
    auto it = ids.find(list[i].second);
    if (it == ids.end())
      continue;
    std::string id = fid + "_" + kind + std::to_string(i);
    out += "    " + id + " [label=" + q(std::string(kind) + " " + list[i].first) +
           ", " + style + "];\n";
    out += "    " + it->second + " -> " + id + " [style=dashed];\n";
  }
}

} // namespace

std::string toDot(const Module &m) {
  std::string out = "digraph " + q(m.name) + " {\n";
  out += "  rankdir=TB;\n";
  out += "  node [fontname=\"monospace\", fontsize=10];\n";
  out += "  edge [fontname=\"monospace\", fontsize=9];\n";
  for (size_t fi = 0; fi < m.functions.size(); ++fi) {
    const Function &f = *m.functions[fi];
    std::string fid = "f" + std::to_string(fi);
    out += "  subgraph " + q("cluster_" + f.name) + " {\n";
    out += "    label=" + q("func " + f.name) + ";\n    style=rounded;\n";
    std::unordered_map<const Node *, std::string> ids;
    for (size_t i = 0; i < f.nodes.size(); ++i) {
      const Node &n = *f.nodes[i];
      std::string id = fid + "_n" + std::to_string(i);
      ids[&n] = id;
      std::string label = n.name + " = " + opName(n.op) + "\n" + n.type.str();
      out += "    " + id + " [label=" + q(label) + ", " + nodeStyle(n) + "];\n";
    }
    // Operands from elsewhere (broken IR) are skipped: DOT of a bad module
    // still has to render for the student debugging it.
    for (auto &n : f.nodes)
      for (const Node *o : n->operands)
        if (ids.count(o))
          out += "    " + ids.at(o) + " -> " + ids.at(n.get()) + ";\n";
    addRoots(out, fid, "output", "shape=plaintext", f.outputs, ids);
    addRoots(out, fid, "update", "shape=plaintext, fontcolor=\"#7f6000\"", f.updates, ids);
    addRoots(out, fid, "grad", "shape=plaintext, fontcolor=\"#990000\"", f.grads, ids);
    if (f.train && ids.count(f.train->loss)) {
      out += "    " + fid + "_loss [label=" + q("loss (" + f.train->optimizer + ")") +
             ", shape=plaintext];\n";
      out += "    " + ids.at(f.train->loss) + " -> " + fid + "_loss [style=dashed];\n";
    }
    out += "  }\n";
  }
  return out + "}\n";
}

} // namespace dlc
