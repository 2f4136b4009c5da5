// Reads a `plan` block of the IR text (the buffer IR, docs/IR.md) into its
// function's Function::plan, then checks it with verifyPlan: a plan is read
// only if it is one the compiler could have made.
#include "ir/PlanParser.h"
#include "ir/BufferIR.h"
#include "ir/RowIndependence.h"

#include <fmt/format.h>

#include <unordered_map>

namespace dlc {

namespace {

class PlanParser {
public:
  PlanParser(TextReader &in, Module &m) : in(in), m(m) {}

  // "k3" or "b12": a kernel or buffer number, below `limit` unless it is -1.
  bool numbered(char prefix, const char *what, int &out, int limit) {
    size_t at = in.here();
    std::string w;
    if (!in.ident(w, what))
      return false;
    if (w.size() < 2 || w[0] != prefix ||
        !std::all_of(w.begin() + 1, w.end(), [](char c) { return text::isDigit(c); }) ||
        w.size() > 10)
      return in.fail(at, fmt::format("expected {} ({}0, {}1, ...), found '{}'", what, prefix,
                                     prefix, w));
    out = std::stoi(w.substr(1));
    if (limit >= 0 && out >= limit)
      return in.fail(at, fmt::format("no {} {} (there are {})",
                                     prefix == 'k' ? "kernel" : "buffer", w, limit));
    return true;
  }

  bool planValue(const std::unordered_map<std::string, Node *> &values, Node *&out) {
    size_t at = in.here();
    std::string n;
    if (!in.valueName(n))
      return false;
    auto it = values.find(n);
    if (it == values.end())
      return in.fail(at, fmt::format("the function has no value %{}", n));
    out = it->second;
    return true;
  }

  bool planValues(const std::unordered_map<std::string, Node *> &values,
                  std::vector<Node *> &out) {
    while (in.peek() == '%') {
      Node *n;
      if (!planValue(values, n))
        return false;
      out.push_back(n);
    }
    return true;
  }

  bool kernelLine(Plan &p, const std::unordered_map<std::string, Node *> &values) {
    int k;
    if (!numbered('k', "a kernel", k, -1))
      return false;
    if (k != (int)p.kernels.size())
      return in.fail(in.pos(),
                     fmt::format("kernels are numbered in order: expected k{}", p.kernels.size()));
    Kernel kern;
    if (in.acceptKeyword("anchor") && !planValue(values, kern.anchor))
      return false;
    while (true) {
      if (in.acceptKeyword("prologue")) {
        if (!planValues(values, kern.prologue))
          return false;
      } else if (in.acceptKeyword("nodes")) {
        if (!planValues(values, kern.nodes))
          return false;
      } else if (in.acceptKeyword("hoisted")) {
        if (!planValues(values, kern.hoisted))
          return false;
      } else if (in.acceptKeyword("stores")) {
        if (!planValues(values, kern.stores))
          return false;
      } else if (in.acceptKeyword("refused")) {
        std::string r;
        if (!in.stringLit(r))
          return false;
        kern.refused.push_back(r);
      } else {
        break;
      }
    }
    if (kern.anchor && (kern.nodes.empty() || kern.nodes[0] != kern.anchor))
      return in.fail(in.pos(), "a kernel's anchor must be the first of its nodes");
    p.kernels.push_back(std::move(kern));
    return true;
  }

  bool bufferLine(Plan &p, const std::unordered_map<std::string, Node *> &values) {
    int b;
    if (!numbered('b', "a buffer", b, -1))
      return false;
    if (b != (int)p.buffers.size())
      return in.fail(in.pos(),
                     fmt::format("buffers are numbered in order: expected b{}", p.buffers.size()));
    Buffer buf;
    size_t kindAt;
    std::string kind;
    if (!in.stringLit(buf.name) || ((kindAt = in.here()), !in.ident(kind, "a buffer kind")))
      return false;
    if (kind == "arena") {
      buf.kind = BufferKind::Arena;
      int64_t first = 0, last = 0; // integer() sets them; GCC cannot tell
      if (!in.expect('@') || !in.integer(buf.offset, 0, INT64_MAX / 2, "offset") ||
          !in.keyword("live") || !in.expect('[') || !in.integer(first, 0, 1 << 30, "step") ||
          !in.expect(',') || !in.integer(last, first, 1 << 30, "step") || !in.expect(']'))
        return false;
      buf.first = (int)first;
      buf.last = (int)last;
    } else if (kind == "state" || kind == "input" || kind == "output") {
      buf.kind = kind == "state"   ? BufferKind::State
                 : kind == "input" ? BufferKind::Input
                                   : BufferKind::Output;
      if (!in.stringLit(buf.ref))
        return false;
    } else {
      return in.fail(kindAt, fmt::format("unknown buffer kind '{}' (expected arena, state, "
                                         "input or output)", kind));
    }
    if (!in.expect(':') || !in.type(buf.type))
      return false;
    if (in.acceptKeyword("holds")) {
      std::vector<Node *> held;
      if (!planValues(values, held))
        return false;
      for (Node *n : held)
        if (!p.bufferOf.emplace(n, b).second)
          return in.fail(in.pos(), fmt::format("%{} is held by two buffers", n->name));
    }
    p.buffers.push_back(std::move(buf));
    return true;
  }

  bool callLine(Plan &p) {
    KernelCall c;
    if (!numbered('k', "a kernel", c.kernel, (int)p.kernels.size()) || !in.expect('('))
      return false;
    if (!in.accept(')')) {
      do {
        size_t at = in.here();
        std::string use;
        if (!in.ident(use, "in, out or inout"))
          return false;
        KernelArg a;
        if (use == "in")
          a.access = Access::In;
        else if (use == "out")
          a.access = Access::Out;
        else if (use == "inout")
          a.access = Access::InOut;
        else
          return in.fail(at, fmt::format("expected in, out or inout, found '{}'", use));
        if (!numbered('b', "a buffer", a.buffer, (int)p.buffers.size()))
          return false;
        c.args.push_back(a);
      } while (in.accept(','));
      if (!in.expect(')'))
        return false;
    }
    p.calls.push_back(std::move(c));
    return true;
  }

  // group [FIRST, LAST] rows N local (bA, bB, ...)
  bool groupLine(Plan &p) {
    RowGroup g;
    int64_t first = 0, last = 0;
    if (!in.expect('[') || !in.integer(first, 0, 1 << 30, "call") || !in.expect(',') ||
        !in.integer(last, 0, 1 << 30, "call") || !in.expect(']') || !in.keyword("rows") ||
        !in.integer(g.rows, 1, INT64_MAX / 2, "row count") || !in.keyword("local") ||
        !in.expect('('))
      return false;
    g.first = (int)first;
    g.last = (int)last;
    if (!in.accept(')')) {
      do {
        int b;
        if (!numbered('b', "a buffer", b, (int)p.buffers.size()))
          return false;
        g.local.push_back(b);
      } while (in.accept(','));
      if (!in.expect(')'))
        return false;
    }
    p.groups.push_back(std::move(g));
    return true;
  }

  // plan NAME [unfused] { kernel... buffer... call... copy... arena ... }
  bool run() {
    size_t at = in.here();
    std::string name;
    if (!in.ident(name, "a function name"))
      return false;
    Function *f = m.findFunction(name);
    if (!f)
      return in.fail(at, fmt::format("plan for undefined function '{}'", name));
    if (!f->plan.kernels.empty() || f->plan.planned)
      return in.fail(at, fmt::format("a second plan for function '{}'", name));
    std::unordered_map<std::string, Node *> values;
    for (auto &n : f->nodes)
      values[n->name] = n.get();
    Plan p;
    p.fused = !in.acceptKeyword("unfused");
    if (!in.expect('{'))
      return false;
    while (!in.accept('}')) {
      size_t kwAt = in.here();
      if (in.acceptKeyword("kernel")) {
        if (!kernelLine(p, values))
          return false;
      } else if (in.acceptKeyword("buffer")) {
        if (!bufferLine(p, values))
          return false;
      } else if (in.acceptKeyword("call")) {
        if (!callLine(p))
          return false;
      } else if (in.acceptKeyword("group")) {
        if (!groupLine(p))
          return false;
      } else if (in.acceptKeyword("copy")) {
        BufferCopy c;
        if (!numbered('b', "a buffer", c.to, (int)p.buffers.size()) || !in.expect('<') ||
            !in.expect('-') || !numbered('b', "a buffer", c.from, (int)p.buffers.size()))
          return false;
        p.copies.push_back(c);
      } else if (in.acceptKeyword("arena")) {
        if (!in.integer(p.arenaBytes, 0, INT64_MAX / 2, "arena size") || !in.expect(',') ||
            !in.keyword("lower_bound") || !in.integer(p.lowerBound, 0, INT64_MAX / 2, "bytes") ||
            !in.expect(',') || !in.keyword("without_reuse") ||
            !in.integer(p.withoutReuse, 0, INT64_MAX / 2, "bytes"))
          return false;
        p.planned = true;
      } else {
        return in.fail(kwAt, fmt::format("expected 'kernel', 'buffer', 'call', 'group', 'copy', "
                                         "'arena' or '}}', found {}", in.describeHere()));
      }
    }
    for (auto &n : f->nodes)
      p.computeNodes += n->info().fusion != FusionKind::Source && !n->info().isView();
    f->plan = std::move(p);
    // A plan is read only if it is one the compiler could have made.
    std::vector<std::string> problems = verifyPlan(*f);
    if (problems.empty()) // every function comes before the plans: the batch is known
      problems = verifyRowGroups(*f, modelBatch(m));
    if (!problems.empty())
      return in.fail(at, fmt::format("invalid plan: {}", problems.front()));
    return true;
  }

private:
  TextReader &in;
  Module &m;
};

} // namespace

bool parsePlan(TextReader &in, Module &m) { return PlanParser(in, m).run(); }

} // namespace dlc
