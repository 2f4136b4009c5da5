// The IR's text form (docs/IR.md): declarations, then one block per function.
// ir/IRParser.cpp reads exactly this back; keep the two in step.
#include "ir/Printer.h"

#include <fmt/format.h>

#include <iterator>
#include <string>

namespace dlc {

namespace {

// Locations and grad_of notes start at this column when the line is short
// enough, so a reader can scan the code and the source positions separately.
constexpr size_t kNoteColumn = 49;

// A float attribute must read back as a float, not an int: "1" becomes "1.0".
std::string floatText(double v) {
  std::string s = fmt::format("{:.9g}", v);
  if (s.find_first_of(".eEni") == std::string::npos) // n, i: nan, inf
    s += ".0";
  return s;
}

std::string numText(double v) { return fmt::format("{:.9g}", v); }

std::string quoted(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20 || c == 0x7f)
        fmt::format_to(std::back_inserter(out), "\\x{:02x}", int(c));
      else
        out += (char)c;
    }
  }
  return out + "\"";
}

std::string attrText(const AttrValue &v) {
  if (auto *i = std::get_if<int64_t>(&v))
    return fmt::to_string(*i);
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
  return fmt::format("@{}:{}:{}", plain ? f : quoted(f), l.line, l.col);
}

// Appends `note` at kNoteColumn (or two spaces after a longer line).
void addNote(std::string &line, const std::string &note) {
  if (note.empty())
    return;
  line.append(line.size() + 2 <= kNoteColumn ? kNoteColumn - line.size() : 2, ' ');
  line += note;
}

// Broken IR is printed too (the verifier's messages refer to it), so a
// missing node shows up as text instead of a crash.
std::string valueRef(const Node *n) { return n ? fmt::format("%{}", n->name) : "%<null>"; }

std::string nodeLine(const Node &n) {
  std::string line = fmt::format("  %{} = {}", n.name, opName(n.op));
  auto out = std::back_inserter(line);
  for (size_t i = 0; i < n.operands.size(); ++i)
    fmt::format_to(out, "{}{}", i ? ", " : "(", valueRef(n.operands[i]));
  fmt::format_to(out, "{}{} : {}", n.operands.empty() ? "" : ")", attrsText(n.attrs),
                 n.type.str());
  std::string note = n.loc.known() ? locText(n.loc) : "";
  if (n.gradOf)
    note += fmt::format("{}grad_of {}", note.empty() ? "" : "  ", valueRef(n.gradOf));
  addNote(line, note);
  return fmt::format("{}\n", line);
}

void printNamedRoots(std::string &out, const char *keyword,
                     const std::vector<std::pair<std::string, Node *>> &list) {
  for (auto &[name, n] : list)
    fmt::format_to(std::back_inserter(out), "  {} {} = {}\n", keyword, name, valueRef(n));
}

} // namespace

std::string printFunction(const Function &f) {
  std::string text = fmt::format("func {} {{\n", f.name);
  auto out = std::back_inserter(text);
  for (auto &n : f.nodes)
    text += nodeLine(*n);
  if (f.train) {
    const TrainSpec &t = *f.train;
    fmt::format_to(out, "  train loss = {}, optimizer = {}(", valueRef(t.loss), t.optimizer);
    for (size_t i = 0; i < t.hyper.size(); ++i)
      fmt::format_to(out, "{}{} = {}", i ? ", " : "", t.hyper[i].first,
                     numText(t.hyper[i].second));
    fmt::format_to(out, "), params = [{}]\n", fmt::join(t.params, ", "));
  }
  printNamedRoots(text, "grad", f.grads);
  printNamedRoots(text, "update", f.updates);
  printNamedRoots(text, "output", f.outputs);
  return text + "}\n";
}

std::string printModule(const Module &m) {
  std::string text = fmt::format("model {}\n", m.name);
  if (!m.inputs.empty() || !m.vars.empty())
    text += "\n";
  for (auto &in : m.inputs) {
    std::string line = fmt::format("input {} : {}", in.name, in.type.str());
    addNote(line, in.loc.known() ? locText(in.loc) : "");
    fmt::format_to(std::back_inserter(text), "{}\n", line);
  }
  for (auto &v : m.vars) {
    std::string line = fmt::format("{} {} : {} = {}", v.trainable ? "param" : "state", v.name,
                                   v.type.str(), v.init.str());
    addNote(line, v.loc.known() ? locText(v.loc) : "");
    fmt::format_to(std::back_inserter(text), "{}\n", line);
  }
  for (auto &f : m.functions)
    fmt::format_to(std::back_inserter(text), "\n{}", printFunction(*f));
  for (auto &f : m.functions)
    if (!f->plan.kernels.empty() || f->plan.planned)
      fmt::format_to(std::back_inserter(text), "\n{}", printPlan(*f));
  return text;
}

std::string attrsText(const Attrs &attrs) {
  if (attrs.empty())
    return "";
  std::string s = " {";
  bool first = true;
  for (auto &[k, v] : attrs.items()) {
    fmt::format_to(std::back_inserter(s), "{}{} = {}", first ? "" : ", ", k, attrText(v));
    first = false;
  }
  return s + "}";
}

std::string printPlan(const Function &f) {
  const Plan &p = f.plan;
  std::string text = fmt::format("plan {}{} {{\n", f.name, p.fused ? "" : " unfused");
  auto out = std::back_inserter(text);
  // "    nodes %a %b": a line for each list that is not empty.
  auto values = [&](const char *kw, const std::vector<Node *> &nodes) {
    if (nodes.empty())
      return;
    fmt::format_to(out, "    {}", kw);
    for (const Node *n : nodes)
      fmt::format_to(out, " %{}", n->name);
    text += "\n";
  };
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const Kernel &kern = p.kernels[k];
    fmt::format_to(out, "  kernel k{}", k);
    if (kern.anchor)
      fmt::format_to(out, " anchor %{}", kern.anchor->name);
    text += "\n";
    values("prologue", kern.prologue);
    values("nodes", kern.nodes);
    values("hoisted", kern.hoisted);
    values("stores", kern.stores);
    for (const std::string &r : kern.refused)
      fmt::format_to(out, "    refused {}\n", quoted(r));
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
      fmt::format_to(out, "  buffer b{} {} {}", b, quoted(buf.name), bufferKindName(buf.kind));
      if (buf.kind == BufferKind::Arena)
        fmt::format_to(out, " @{} live [{}, {}]", buf.offset, buf.first, buf.last);
      else
        fmt::format_to(out, " {}", quoted(buf.ref));
      fmt::format_to(out, " : {}", buf.type.str());
      if (!holds[b].empty()) {
        text += " holds";
        for (const Node *n : holds[b])
          fmt::format_to(out, " %{}", n->name);
      }
      text += "\n";
    }
    for (const KernelCall &c : p.calls) {
      fmt::format_to(out, "  call k{} (", c.kernel);
      for (size_t a = 0; a < c.args.size(); ++a)
        fmt::format_to(out, "{}{} b{}", a ? ", " : "", accessName(c.args[a].access),
                       c.args[a].buffer);
      text += ")\n";
    }
    for (const RowGroup &g : p.groups) {
      fmt::format_to(out, "  group [{}, {}] rows {} local (", g.first, g.last, g.rows);
      for (size_t i = 0; i < g.local.size(); ++i)
        fmt::format_to(out, "{}b{}", i ? ", " : "", g.local[i]);
      text += ")\n";
    }
    for (const BufferCopy &c : p.copies)
      fmt::format_to(out, "  copy b{} <- b{}\n", c.to, c.from);
    fmt::format_to(out, "  arena {}, lower_bound {}, without_reuse {}\n", p.arenaBytes,
                   p.lowerBound, p.withoutReuse);
  }
  return text + "}\n";
}

} // namespace dlc
