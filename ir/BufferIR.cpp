// Printing and checking the buffer IR (ir/BufferIR.h).
#include "ir/BufferIR.h"
#include "ir/Graph.h"
#include "ir/Printer.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <unordered_set>

namespace dlc {

std::string Kernel::kind() const {
  if (anchor)
    return fmt::format("{}{}{}", prologue.empty() ? "" : "prologue + ", opName(anchor->op),
                       nodes.size() > 1 ? " + epilogue" : "");
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
  std::string text;
  auto out = std::back_inserter(text);
  for (auto &[file, set] : lines) {
    fmt::format_to(out, "{}{}:", text.empty() ? "" : ", ", file);
    std::vector<int> v(set.begin(), set.end());
    for (size_t i = 0; i < v.size();) {
      size_t j = i;
      while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
        ++j;
      fmt::format_to(out, "{}{}", i ? "," : "", v[i]);
      if (j > i)
        fmt::format_to(out, "-{}", v[j]);
      i = j + 1;
    }
  }
  return text.empty() ? "(no source)" : text;
}

std::string nodeLine(const Node *n) {
  std::string s = fmt::format("%{} = {}", n->name, opName(n->op));
  for (size_t i = 0; i < n->operands.size(); ++i)
    fmt::format_to(std::back_inserter(s), "{}%{}", i ? ", " : "(", n->operands[i]->name);
  // Attributes decide a kernel's loops (transposes, axes): show them.
  fmt::format_to(std::back_inserter(s), "{}{} : {}", n->operands.empty() ? "" : ")",
                 attrsText(n->attrs), n->type.str());
  return s;
}

} // namespace

std::string printFused(const Function &f) {
  const Plan &p = f.plan;
  std::string text;
  auto out = std::back_inserter(text);
  fmt::format_to(out, "entry {}{} {{\n", f.name, p.fused ? "" : " (--no-fusion)");
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    const Kernel &k = p.kernels[i];
    fmt::format_to(out, "  k{}: {}   # {}\n", i, k.kind(), sourceLines(k));
    for (const Node *n : k.hoisted)
      fmt::format_to(out, "    hoisted {}\n", nodeLine(n));
    for (const Node *n : k.prologue)
      fmt::format_to(out, "    prologue {}\n", nodeLine(n));
    for (const Node *n : k.nodes)
      fmt::format_to(out, "    {}\n", nodeLine(n));
    for (const std::string &r : k.refused)
      fmt::format_to(out, "    refused {}\n", r);
  }
  text += "}\n";
  fmt::format_to(out, "fused {}: {} kernels from {} nodes\n", f.name, p.kernels.size(),
                 p.computeNodes);
  return text;
}

std::string printMemPlan(const Function &f) {
  const Plan &p = f.plan;
  std::string text;
  auto out = std::back_inserter(text);
  fmt::format_to(out, "entry {} {{\n", f.name);
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    const Buffer &buf = p.buffers[b];
    fmt::format_to(out, "  b{:<3} {:<30} {:<18} ", b, buf.name, buf.type.str());
    if (buf.kind == BufferKind::Arena)
      fmt::format_to(out, "arena @{:<9} live [{}, {}]\n", buf.offset, buf.first, buf.last);
    else
      fmt::format_to(out, "{} '{}'\n", bufferKindName(buf.kind), buf.ref);
  }
  for (size_t s = 0; s < p.calls.size(); ++s) {
    const KernelCall &c = p.calls[s];
    fmt::format_to(out, "  {}: call k{} {} (", s, c.kernel, p.kernels[c.kernel].kind());
    for (size_t a = 0; a < c.args.size(); ++a)
      fmt::format_to(out, "{}{} b{}", a ? ", " : "", accessName(c.args[a].access),
                     c.args[a].buffer);
    text += ")\n";
  }
  for (const RowGroup &g : p.groups) {
    fmt::format_to(out, "  calls {}-{} run {} row{} at a time", g.first, g.last, g.rows,
                   g.rows == 1 ? "" : "s");
    if (!g.local.empty()) {
      text += ", the chunk in flight in";
      for (int b : g.local)
        fmt::format_to(out, " b{}", b);
    }
    text += "\n";
  }
  for (const BufferCopy &c : p.copies)
    fmt::format_to(out, "  {}: copy b{} <- b{}\n", p.calls.size(), c.to, c.from);
  text += "}\n";
  fmt::format_to(out, "memplan {}: arena {} bytes, lower bound {} bytes, without reuse {} bytes\n",
                 f.name, p.arenaBytes, p.lowerBound, p.withoutReuse);
  return text;
}

std::vector<std::string> verifyPlan(const Function &f) {
  const Plan &p = f.plan;
  std::vector<std::string> out;
  auto problem = [&](const std::string &m) {
    out.push_back(fmt::format("func {}: {}", f.name, m));
  };
  std::unordered_map<const Node *, int> kernelOf;
  std::unordered_set<const Node *> inFunction;
  for (auto &n : f.nodes)
    inFunction.insert(n.get());
  for (size_t k = 0; k < p.kernels.size(); ++k)
    for (const auto *list : {&p.kernels[k].prologue, &p.kernels[k].nodes})
    for (const Node *n : *list) {
      if (!inFunction.count(n))
        problem(fmt::format("k{} computes a node of another function", k));
      else if (!kernelOf.emplace(n, (int)k).second)
        problem(fmt::format("%{} is computed by two kernels", n->name));
    }
  std::unordered_set<const Node *> hoisted;
  for (const Kernel &k : p.kernels)
    hoisted.insert(k.hoisted.begin(), k.hoisted.end());
  for (auto &n : f.nodes) {
    bool compute = n->info().fusion != FusionKind::Source && !n->info().isView();
    if (compute && !kernelOf.count(n.get()) && !hoisted.count(n.get()))
      problem(fmt::format("%{} is computed by no kernel", n->name));
  }
  if (!p.planned)
    return out;
  // The schedule: a kernel reads only values of earlier kernels (or its own).
  std::unordered_map<int, size_t> stepOf;
  for (size_t s = 0; s < p.calls.size(); ++s) {
    int k = p.calls[s].kernel;
    if (k < 0 || k >= (int)p.kernels.size() || !stepOf.emplace(k, s).second)
      problem(fmt::format("call {} names a bad or repeated kernel", s));
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
          problem(fmt::format("%{} (call {}) reads %{} before its kernel runs", n->name, s,
                              o->name));
      }
  for (size_t s = 0; s < p.calls.size(); ++s)
    for (const KernelArg &a : p.calls[s].args)
      if (a.buffer < 0 || a.buffer >= (int)p.buffers.size())
        problem(fmt::format("call {} passes a buffer that does not exist", s));
  // Row groups: disjoint runs of calls in order; a local buffer is an arena
  // buffer no call outside its group and no copy uses; every arena buffer
  // a group's calls touch is live across the group.
  int groupEnd = -1;
  for (size_t g = 0; g < p.groups.size(); ++g) {
    const RowGroup &grp = p.groups[g];
    if (grp.first <= groupEnd || grp.first >= grp.last || grp.last >= (int)p.calls.size() ||
        grp.rows < 1) {
      problem(fmt::format("group {} ([{}, {}], {} rows) is not a run of two or more calls "
                          "after the previous group",
                          g, grp.first, grp.last, grp.rows));
      continue;
    }
    groupEnd = grp.last;
    std::unordered_set<int> local(grp.local.begin(), grp.local.end());
    for (int b : grp.local)
      if (b < 0 || b >= (int)p.buffers.size() || p.buffers[b].kind != BufferKind::Arena)
        problem(fmt::format("group {} keeps b{} local, which is not an arena buffer", g, b));
    for (size_t s = 0; s < p.calls.size(); ++s) {
      bool inside = (int)s >= grp.first && (int)s <= grp.last;
      for (const KernelArg &a : p.calls[s].args) {
        if (a.buffer < 0 || a.buffer >= (int)p.buffers.size())
          continue;
        const Buffer &buf = p.buffers[a.buffer];
        if (!inside && local.count(a.buffer))
          problem(fmt::format("call {} uses b{}, local to group {}", s, a.buffer, g));
        if (inside && buf.kind == BufferKind::Arena &&
            (buf.first > grp.first || buf.last < grp.last))
          problem(fmt::format("b{} is used in group {} but not live across it", a.buffer, g));
      }
    }
    for (const BufferCopy &c : p.copies)
      if (local.count(c.from) || local.count(c.to))
        problem(fmt::format("a copy uses a buffer local to group {}", g));
  }
  // No two arena buffers live at one step share a byte.
  const int64_t align = 64;
  for (size_t i = 0; i < p.buffers.size(); ++i) {
    const Buffer &a = p.buffers[i];
    if (a.kind != BufferKind::Arena)
      continue;
    int64_t aEnd = a.offset + (a.type.bytes() + align - 1) / align * align;
    if (a.offset < 0 || a.offset % align || aEnd > p.arenaBytes)
      problem(fmt::format("b{} lies outside the arena or is misaligned", i));
    for (size_t j = i + 1; j < p.buffers.size(); ++j) {
      const Buffer &b = p.buffers[j];
      if (b.kind != BufferKind::Arena || a.last < b.first || b.last < a.first)
        continue;
      int64_t bEnd = b.offset + (b.type.bytes() + align - 1) / align * align;
      if (a.offset < bEnd && b.offset < aEnd)
        problem(fmt::format("b{} and b{} are live at once on overlapping bytes", i, j));
    }
  }
  return out;
}

} // namespace dlc
