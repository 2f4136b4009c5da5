// The IR's text form (docs/IR.md): declarations, then one block per function.
// ir/IRParser.cpp reads exactly this back; keep the two in step.
#include "ir/Printer.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace dlc {

namespace {

// Locations and grad_of notes start at this column when the line is short
// enough, so a reader can scan the code and the source positions separately.
constexpr size_t kNoteColumn = 49;

// A float attribute must read back as a float, not an int: "1" becomes "1.0".
std::string floatText(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  std::string s = buf;
  if (s.find_first_of(".eEni") == std::string::npos) // n, i: nan, inf
    s += ".0";
  return s;
}

std::string numText(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      } else {
        out += (char)c;
      }
    }
  }
  return out + "\"";
}

std::string attrText(const AttrValue &v) {
  if (auto *i = std::get_if<int64_t>(&v))
    return std::to_string(*i);
  if (auto *d = std::get_if<double>(&v))
    return floatText(*d);
  if (auto *s = std::get_if<std::string>(&v))
    return quoted(*s);
  return dimsStr(std::get<std::vector<int64_t>>(v));
}

// A path the parser can read back as one word; quoted when it holds a space,
// a quote, a backslash or a '#' (rare: generated names, Windows paths).
std::string locText(const SourceLoc &l) {
  const std::string &f = *l.file;
  bool plain = !f.empty() && f.find_first_of(" \t\r\n\"\\#") == std::string::npos;
  return "@" + (plain ? f : quoted(f)) + ":" + std::to_string(l.line) + ":" +
         std::to_string(l.col);
}

// Appends `note` at kNoteColumn (or two spaces after a longer line).
void addNote(std::string &line, const std::string &note) {
  if (note.empty())
    return;
  line += line.size() + 2 <= kNoteColumn ? std::string(kNoteColumn - line.size(), ' ')
                                         : std::string(2, ' ');
  line += note;
}

// Broken IR is printed too (the verifier's messages refer to it), so a
// missing node shows up as text instead of a crash.
std::string valueRef(const Node *n) { return n ? "%" + n->name : "%<null>"; }

std::string nodeLine(const Node &n) {
  std::string line = "  %" + n.name + " = " + opName(n.op);
  if (!n.operands.empty()) {
    line += "(";
    for (size_t i = 0; i < n.operands.size(); ++i)
      line += (i ? ", " : "") + valueRef(n.operands[i]);
    line += ")";
  }
  line += attrsText(n.attrs);
  line += " : " + n.type.str();
  std::string note = n.loc.known() ? locText(n.loc) : "";
  if (n.gradOf)
    note += (note.empty() ? "" : "  ") + std::string("grad_of ") + valueRef(n.gradOf);
  addNote(line, note);
  return line + "\n";
}

void printNamedRoots(std::string &out, const char *keyword,
                     const std::vector<std::pair<std::string, Node *>> &list) {
  for (auto &[name, n] : list)
    out += std::string("  ") + keyword + " " + name + " = " + valueRef(n) + "\n";
}

} // namespace

std::string printFunction(const Function &f) {
  std::string out = "func " + f.name + " {\n";
  for (auto &n : f.nodes)
    out += nodeLine(*n);
  if (f.train) {
    const TrainSpec &t = *f.train;
    out += "  train loss = " + valueRef(t.loss) + ", optimizer = " + t.optimizer + "(";
    for (size_t i = 0; i < t.hyper.size(); ++i)
      out += (i ? ", " : "") + t.hyper[i].first + " = " + numText(t.hyper[i].second);
    out += "), params = [";
    for (size_t i = 0; i < t.params.size(); ++i)
      out += (i ? ", " : "") + t.params[i];
    out += "]\n";
  }
  printNamedRoots(out, "grad", f.grads);
  printNamedRoots(out, "update", f.updates);
  printNamedRoots(out, "output", f.outputs);
  return out + "}\n";
}

std::string printModule(const Module &m) {
  std::string out = "model " + m.name + "\n";
  if (!m.inputs.empty() || !m.vars.empty())
    out += "\n";
  for (auto &in : m.inputs) {
    std::string line = "input " + in.name + " : " + in.type.str();
    addNote(line, in.loc.known() ? locText(in.loc) : "");
    out += line + "\n";
  }
  for (auto &v : m.vars) {
    std::string line = std::string(v.trainable ? "param " : "state ") + v.name +
                       " : " + v.type.str() + " = " + v.init.str();
    addNote(line, v.loc.known() ? locText(v.loc) : "");
    out += line + "\n";
  }
  for (auto &f : m.functions)
    out += "\n" + printFunction(*f);
  for (auto &f : m.functions)
    if (!f->plan.kernels.empty() || f->plan.planned)
      out += "\n" + printPlan(*f);
  return out;
}

std::string attrsText(const Attrs &attrs) {
  if (attrs.empty())
    return "";
  std::string s = " {";
  bool first = true;
  for (auto &[k, v] : attrs.items()) {
    s += (first ? "" : ", ") + k + " = " + attrText(v);
    first = false;
  }
  return s + "}";
}

std::string printPlan(const Function &f) {
  const Plan &p = f.plan;
  auto values = [](const char *kw, const std::vector<Node *> &nodes) {
    std::string s;
    if (nodes.empty())
      return s;
    s = std::string(" ") + kw;
    for (const Node *n : nodes)
      s += " %" + n->name;
    return s;
  };
  std::string out = "plan " + f.name + (p.fused ? "" : " unfused") + " {\n";
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const Kernel &kern = p.kernels[k];
    out += "  kernel k" + std::to_string(k);
    if (kern.anchor)
      out += " anchor %" + kern.anchor->name;
    out += "\n";
    for (const auto &[kw, list] : {std::pair<const char *, const std::vector<Node *> *>{
                                       "prologue", &kern.prologue},
                                   {"nodes", &kern.nodes},
                                   {"hoisted", &kern.hoisted},
                                   {"stores", &kern.stores}})
      if (!list->empty())
        out += "   " + values(kw, *list) + "\n";
    for (const std::string &r : kern.refused)
      out += "    refused " + quoted(r) + "\n";
  }
  if (p.planned) {
    // Every value's buffer, listed with the buffer ("holds"), in graph order.
    std::vector<std::vector<const Node *>> holds(p.buffers.size());
    for (auto &n : f.nodes) {
      auto it = p.bufferOf.find(n.get());
      if (it != p.bufferOf.end())
        holds[it->second].push_back(n.get());
    }
    for (size_t b = 0; b < p.buffers.size(); ++b) {
      const Buffer &buf = p.buffers[b];
      out += "  buffer b" + std::to_string(b) + " " + quoted(buf.name) + " " +
             bufferKindName(buf.kind);
      if (buf.kind == BufferKind::Arena)
        out += " @" + std::to_string(buf.offset) + " live [" + std::to_string(buf.first) +
               ", " + std::to_string(buf.last) + "]";
      else
        out += " " + quoted(buf.ref);
      out += " : " + buf.type.str();
      if (!holds[b].empty()) {
        out += " holds";
        for (const Node *n : holds[b])
          out += " %" + n->name;
      }
      out += "\n";
    }
    for (const KernelCall &c : p.calls) {
      out += "  call k" + std::to_string(c.kernel) + " (";
      for (size_t a = 0; a < c.args.size(); ++a)
        out += std::string(a ? ", " : "") + accessName(c.args[a].access) + " b" +
               std::to_string(c.args[a].buffer);
      out += ")\n";
    }
    for (const BufferCopy &c : p.copies)
      out += "  copy b" + std::to_string(c.to) + " <- b" + std::to_string(c.from) + "\n";
    out += "  arena " + std::to_string(p.arenaBytes) + ", lower_bound " +
           std::to_string(p.lowerBound) + ", without_reuse " +
           std::to_string(p.withoutReuse) + "\n";
  }
  return out + "}\n";
}

} // namespace dlc
