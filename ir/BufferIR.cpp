// Printing and checking the buffer IR (ir/BufferIR.h).
#include "ir/BufferIR.h"
#include "ir/Graph.h"
#include "ir/Printer.h"
#include "ir/Support.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace dlc {

std::string Kernel::kind() const {
  if (anchor)
    return std::string(prologue.empty() ? "" : "prologue + ") + opName(anchor->op) +
           (nodes.size() > 1 ? " + epilogue" : "");
  if (nodes.size() == 1 && nodes[0]->op == OpKind::Constant)
    return "fill";
  return "map";
}

const char *bufferKindName(BufferKind k) {
  switch (k) {
  case BufferKind::Arena: return "arena";
  case BufferKind::State: return "state";
  case BufferKind::Input: return "input";
  case BufferKind::Output: return "output";
  }
  return "?";
}

const char *accessName(Access a) {
  switch (a) {
  case Access::In: return "in";
  case Access::Out: return "out";
  case Access::InOut: return "inout";
  }
  return "?";
}

namespace {

// "mnist_mlp.dl:12, prelude.dl:18-19": the DSL lines of a kernel's nodes,
// by file, runs of consecutive lines joined.
std::string sourceLines(const Kernel &k) {
  std::map<std::string, std::set<int>> lines;
  std::vector<const Node *> all(k.prologue.begin(), k.prologue.end());
  all.insert(all.end(), k.nodes.begin(), k.nodes.end());
  for (const Node *n : all)
    if (n->loc.known()) {
      std::string file = *n->loc.file;
      size_t slash = file.rfind('/');
      lines[slash == std::string::npos ? file : file.substr(slash + 1)].insert(n->loc.line);
    }
  std::string out;
  for (auto &[file, set] : lines) {
    out += (out.empty() ? "" : ", ") + file + ":";
    std::vector<int> v(set.begin(), set.end());
    for (size_t i = 0; i < v.size();) {
      size_t j = i;
      while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
        ++j;
      out += (i ? "," : "") + std::to_string(v[i]) +
             (j > i ? "-" + std::to_string(v[j]) : "");
      i = j + 1;
    }
  }
  return out.empty() ? "(no source)" : out;
}

std::string nodeLine(const Node *n) {
  std::string s = "%" + n->name + " = " + opName(n->op);
  if (!n->operands.empty()) {
    s += "(";
    for (size_t i = 0; i < n->operands.size(); ++i)
      s += (i ? ", %" : "%") + n->operands[i]->name;
    s += ")";
  }
  // Attributes decide a kernel's loops (transposes, axes): show them.
  return s + attrsText(n->attrs) + " : " + n->type.str();
}

} // namespace

std::string printFused(const Function &f) {
  const Plan &p = f.plan;
  std::ostringstream out;
  out << "entry " << f.name << (p.fused ? "" : " (--no-fusion)") << " {\n";
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    const Kernel &k = p.kernels[i];
    out << "  k" << i << ": " << k.kind() << "   # " << sourceLines(k) << "\n";
    for (const Node *n : k.hoisted)
      out << "    hoisted " << nodeLine(n) << "\n";
    for (const Node *n : k.prologue)
      out << "    prologue " << nodeLine(n) << "\n";
    for (const Node *n : k.nodes)
      out << "    " << nodeLine(n) << "\n";
    for (const std::string &r : k.refused)
      out << "    refused " << r << "\n";
  }
  out << "}\n";
  out << "fused " << f.name << ": " << p.kernels.size() << " kernels from "
      << p.computeNodes << " nodes\n";
  return out.str();
}

std::string printMemPlan(const Function &f) {
  const Plan &p = f.plan;
  std::ostringstream out;
  out << "entry " << f.name << " {\n";
  char line[512];
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    const Buffer &buf = p.buffers[b];
    if (buf.kind == BufferKind::Arena)
      std::snprintf(line, sizeof line, "  b%-3zu %-30s %-18s arena @%-9lld live [%d, %d]\n",
                    b, buf.name.c_str(), buf.type.str().c_str(), (long long)buf.offset,
                    buf.first, buf.last);
    else
      std::snprintf(line, sizeof line, "  b%-3zu %-30s %-18s %s '%s'\n", b, buf.name.c_str(),
                    buf.type.str().c_str(), bufferKindName(buf.kind), buf.ref.c_str());
    out << line;
  }
  for (size_t s = 0; s < p.calls.size(); ++s) {
    const KernelCall &c = p.calls[s];
    out << "  " << s << ": call k" << c.kernel << " " << p.kernels[c.kernel].kind() << " (";
    for (size_t a = 0; a < c.args.size(); ++a)
      out << (a ? ", " : "") << accessName(c.args[a].access) << " b" << c.args[a].buffer;
    out << ")\n";
  }
  for (const BufferCopy &c : p.copies)
    out << "  " << p.calls.size() << ": copy b" << c.to << " <- b" << c.from << "\n";
  out << "}\n";
  out << "memplan " << f.name << ": arena " << p.arenaBytes << " bytes, lower bound "
      << p.lowerBound << " bytes, without reuse " << p.withoutReuse << " bytes\n";
  return out.str();
}

std::vector<std::string> verifyPlan(const Function &f) {
  const Plan &p = f.plan;
  std::vector<std::string> out;
  auto problem = [&](const std::string &m) { out.push_back("func " + f.name + ": " + m); };
  std::unordered_map<const Node *, int> kernelOf;
  std::unordered_set<const Node *> inFunction;
  for (auto &n : f.nodes)
    inFunction.insert(n.get());
  for (size_t k = 0; k < p.kernels.size(); ++k)
    for (const auto *list : {&p.kernels[k].prologue, &p.kernels[k].nodes})
    for (const Node *n : *list) {
      if (!inFunction.count(n))
        problem("k" + std::to_string(k) + " computes a node of another function");
      else if (!kernelOf.emplace(n, (int)k).second)
        problem("%" + n->name + " is computed by two kernels");
    }
  std::unordered_set<const Node *> hoisted;
  for (const Kernel &k : p.kernels)
    hoisted.insert(k.hoisted.begin(), k.hoisted.end());
  for (auto &n : f.nodes) {
    bool compute = n->info().fusion != FusionKind::Source && !n->info().isView();
    if (compute && !kernelOf.count(n.get()) && !hoisted.count(n.get()))
      problem("%" + n->name + " is computed by no kernel");
  }
  if (!p.planned)
    return out;
  // The schedule: a kernel reads only values of earlier kernels (or its own).
  std::unordered_map<int, size_t> stepOf;
  for (size_t s = 0; s < p.calls.size(); ++s) {
    int k = p.calls[s].kernel;
    if (k < 0 || k >= (int)p.kernels.size() || !stepOf.emplace(k, s).second)
      problem("call " + std::to_string(s) + " names a bad or repeated kernel");
  }
  if (stepOf.size() != p.kernels.size())
    problem("not every kernel is called");
  for (auto &[k, s] : stepOf)
    for (const auto *list : {&p.kernels[k].prologue, &p.kernels[k].nodes})
    for (const Node *n : *list)
      for (const Node *o : n->operands) {
        const auto &h = p.kernels[k].hoisted;
        if (std::find(h.begin(), h.end(), o) != h.end())
          continue; // recomputed here, not read
        o = viewRoot(o);
        auto it = kernelOf.find(o);
        if (it != kernelOf.end() && it->second != k && stepOf.count(it->second) &&
            stepOf.at(it->second) > s)
          problem("%" + n->name + " (call " + std::to_string(s) + ") reads %" + o->name +
                  " before its kernel runs");
      }
  for (size_t s = 0; s < p.calls.size(); ++s)
    for (const KernelArg &a : p.calls[s].args)
      if (a.buffer < 0 || a.buffer >= (int)p.buffers.size())
        problem("call " + std::to_string(s) + " passes a buffer that does not exist");
  // No two arena buffers live at one step share a byte.
  const int64_t align = 64;
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    const Buffer &a = p.buffers[i];
    if (a.kind != BufferKind::Arena)
      continue;
    int64_t aEnd = a.offset + (a.type.bytes() + align - 1) / align * align;
    if (a.offset < 0 || a.offset % align || aEnd > p.arenaBytes)
      problem("b" + std::to_string(i) + " lies outside the arena or is misaligned");
    for (size_t j = i + 1; j < p.buffers.size(); ++j) {
      const Buffer &b = p.buffers[j];
      if (b.kind != BufferKind::Arena || a.last < b.first || b.last < a.first)
        continue;
      int64_t bEnd = b.offset + (b.type.bytes() + align - 1) / align * align;
      if (a.offset < bEnd && b.offset < aEnd)
        problem("b" + std::to_string(i) + " and b" + std::to_string(j) +
                " are live at once on overlapping bytes");
    }
  }
  return out;
}

} // namespace dlc
