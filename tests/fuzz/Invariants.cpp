// The invariants of tests/fuzz/Invariants.h.
#include "tests/fuzz/Invariants.h"
#include "ir/IRParser.h"
#include "ir/Printer.h"
#include "ir/Support.h"
#include "passes/Autodiff.h"
#include "passes/OptimizerUpdate.h"
#include "passes/Simplify.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <sstream>

namespace dlc::fuzz {

std::string runVerifiedPipeline(Module &m, const PipelineOptions &opts) {
  PassOptions check;
  check.verifyEach = true;
  PassManager pm(check);
  addDefaultPipeline(pm, opts);
  try {
    pm.run(m);
  } catch (const InternalError &e) {
    return std::string("internal error: ") + e.what();
  }
  return "";
}

namespace {

// The graph passes, verified, up to the --emit=opt dump.
std::string graphPasses(Module &m) {
  PassOptions check;
  check.verifyEach = true;
  check.stopAfter = "simplify";
  PassManager pm(check);
  addDefaultPipeline(pm);
  try {
    pm.run(m);
  } catch (const InternalError &e) {
    return std::string("internal error: ") + e.what();
  }
  return "";
}

// The first line where two texts differ, both versions.
std::string firstDifference(const std::string &a, const std::string &b, const char *first,
                            const char *second) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  int line = 1;
  while (true) {
    bool ha = (bool)std::getline(sa, la), hb = (bool)std::getline(sb, lb);
    if (!ha && !hb)
      return "";
    if (!ha || !hb || la != lb)
      return "line " + std::to_string(line) + ":\n  " + first + ": " + (ha ? la : "(end)") +
             "\n  " + second + ": " + (hb ? lb : "(end)");
    ++line;
  }
}

} // namespace

std::string idempotenceProblem(const Module &m) {
  std::unique_ptr<Module> once = cloneModule(m);
  if (std::string p = graphPasses(*once); !p.empty())
    return p;
  std::string text = printModule(*once), error;
  std::unique_ptr<Module> again = parseModuleText(text, "opt.ir", error);
  if (!again)
    return "the --emit=opt dump does not parse back: " + error + "\n--- dump:\n" + text;
  if (std::string p = graphPasses(*again); !p.empty())
    return "on the --emit=opt dump: " + p;
  std::string second = printModule(*again);
  if (second == text)
    return "";
  return "the graph passes change their own --emit=opt dump at " +
         firstDifference(text, second, "dump", "passes on the dump");
}

std::string roundTripProblem(const Module &m) {
  std::string text = printModule(m), error;
  std::unique_ptr<Module> again = parseModuleText(text, "printed.ir", error);
  if (!again)
    return "the printed module does not parse back: " + error + "\n--- printed:\n" + text;
  std::string second = printModule(*again);
  if (second == text)
    return "";
  return "printing the parsed module changes " +
         firstDifference(text, second, "printed", "reprinted");
}

namespace {

constexpr int64_t kAlign = 64; // the arena alignment codegen relies on

int64_t aligned(int64_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// What a buffer holds, named independently of buffers: the input or the
// variable's old value for a source, the node for a computed value.
std::string valueKey(const Node *n) {
  if (n->op == OpKind::Input)
    return "input " + n->attrs.getString("name");
  if (n->op == OpKind::Var)
    return "var " + n->attrs.getString("name");
  return "%" + n->name;
}

class PlanReplay {
public:
  explicit PlanReplay(const Function &f) : f_(f), p_(f.plan) {}

  std::string run() {
    checkArena();
    holds_.assign(p_.buffers.size(), "");
    for (size_t b = 0; b < p_.buffers.size(); ++b) {
      const Buffer &buf = p_.buffers[b];
      if (buf.kind == BufferKind::Input)
        holds_[b] = "input " + buf.ref;
      else if (buf.kind == BufferKind::State)
        holds_[b] = "var " + buf.ref;
    }
    for (size_t s = 0; s < p_.calls.size(); ++s)
      replayCall(s);
    for (const BufferCopy &c : p_.copies) {
      if (!valid(c.from) || !valid(c.to)) {
        problem("a copy names a buffer that does not exist");
        continue;
      }
      if (holds_[c.from].empty())
        problem("copy b" + std::to_string(c.to) + " <- b" + std::to_string(c.from) + ": b" +
                std::to_string(c.from) + " no longer holds a value");
      if (p_.buffers[c.to].kind == BufferKind::Input)
        problem("a copy writes input buffer b" + std::to_string(c.to));
      write(c.to, holds_[c.from]);
    }
    checkResults();
    return out_;
  }

private:
  const Function &f_;
  const Plan &p_;
  std::vector<std::string> holds_;
  std::string out_;

  void problem(const std::string &msg) { out_ += "func " + f_.name + ": " + msg + "\n"; }
  bool valid(int b) const { return b >= 0 && b < (int)p_.buffers.size(); }
  bool isArena(int b) const { return p_.buffers[b].kind == BufferKind::Arena; }

  bool shareBytes(int a, int b) const {
    const Buffer &x = p_.buffers[a], &y = p_.buffers[b];
    return x.offset < y.offset + y.type.bytes() && y.offset < x.offset + x.type.bytes();
  }

  // Writing `value` into b; arena buffers sharing bytes with b lose theirs.
  void write(int b, const std::string &value) {
    holds_[b] = value;
    if (!isArena(b))
      return;
    for (int c = 0; c < (int)p_.buffers.size(); ++c)
      if (c != b && isArena(c) && shareBytes(b, c))
        holds_[c] = "";
  }

  void replayCall(size_t s) {
    const KernelCall &call = p_.calls[s];
    std::string at = "call " + std::to_string(s);
    if (call.kernel < 0 || call.kernel >= (int)p_.kernels.size()) {
      problem(at + " names no kernel");
      return;
    }
    const Kernel &k = p_.kernels[call.kernel];
    auto accessOf = [&](int b) -> const KernelArg * {
      for (const KernelArg &a : call.args)
        if (a.buffer == b)
          return &a;
      return nullptr;
    };
    // Distinct, non-aliasing arguments: each may be declared noalias.
    std::set<std::pair<int, std::string>> refs;
    for (size_t i = 0; i < call.args.size(); ++i) {
      int b = call.args[i].buffer;
      if (!valid(b)) {
        problem(at + " passes a buffer that does not exist");
        return;
      }
      for (size_t j = 0; j < i; ++j) {
        int c = call.args[j].buffer;
        if (c == b)
          problem(at + " passes b" + std::to_string(b) + " twice");
        else if (isArena(b) && isArena(c) && shareBytes(b, c))
          problem(at + " passes b" + std::to_string(c) + " and b" + std::to_string(b) +
                  ", which share arena bytes");
      }
      const Buffer &buf = p_.buffers[b];
      if (!isArena(b) && !refs.insert({(int)buf.kind, buf.ref}).second)
        problem(at + " passes two buffers for " + bufferKindName(buf.kind) + " '" + buf.ref +
                "'");
    }
    checkOrder(at, k);
    std::set<const Node *> mine(k.hoisted.begin(), k.hoisted.end());
    mine.insert(k.prologue.begin(), k.prologue.end());
    mine.insert(k.nodes.begin(), k.nodes.end());
    for (const auto *list : {&k.hoisted, &k.prologue, &k.nodes})
      for (const Node *n : *list)
        for (const Node *o : n->operands) {
          if (mine.count(o))
            continue;
          const Node *r = viewRoot(o);
          if (r->op == OpKind::Constant && r == o)
            continue; // an immediate in the kernel's code
          auto it = p_.bufferOf.find(r);
          if (it == p_.bufferOf.end() || !valid(it->second)) {
            problem(at + " reads %" + r->name + ", which has no buffer");
            continue;
          }
          int b = it->second;
          const KernelArg *a = accessOf(b);
          if (!a || a->access == Access::Out)
            problem(at + " reads %" + r->name + " from b" + std::to_string(b) +
                    ", which it does not take as in or inout");
          if (holds_[b] != valueKey(r))
            problem(at + " reads %" + r->name + " from b" + std::to_string(b) + ", which holds " +
                    (holds_[b].empty() ? "nothing (clobbered)" : holds_[b]));
        }
    for (const Node *n : k.stores) {
      auto it = p_.bufferOf.find(n);
      if (it == p_.bufferOf.end() || !valid(it->second)) {
        problem(at + " stores %" + n->name + ", which has no buffer");
        continue;
      }
      int b = it->second;
      const KernelArg *a = accessOf(b);
      if (!a || a->access == Access::In)
        problem(at + " stores %" + n->name + " into b" + std::to_string(b) +
                ", which it does not take as out or inout");
      if (p_.buffers[b].kind == BufferKind::Input)
        problem(at + " stores %" + n->name + " into input buffer b" + std::to_string(b));
      write(b, valueKey(n));
    }
  }

  // A kernel computes its hoisted scalars first, then its prologue inside
  // the anchor's loops, then the anchor, then the epilogue in order: a node
  // may read a node of its own kernel only if that one comes earlier. (An
  // anchor reading an epilogue node would read values not yet computed.)
  void checkOrder(const std::string &at, const Kernel &k) {
    std::set<const Node *> done(k.hoisted.begin(), k.hoisted.end()), all = done;
    all.insert(k.prologue.begin(), k.prologue.end());
    all.insert(k.nodes.begin(), k.nodes.end());
    if (k.anchor && (k.nodes.empty() || k.nodes[0] != k.anchor))
      problem(at + ": the anchor is not the kernel's first node");
    for (const auto *list : {&k.prologue, &k.nodes})
      for (const Node *n : *list) {
        for (const Node *o : n->operands) {
          const Node *r = viewRoot(o);
          for (const Node *v : {o, r})
            if (all.count(v) && !done.count(v))
              problem(at + ": %" + n->name + " reads %" + v->name +
                      ", which its kernel computes later");
        }
        done.insert(n);
      }
  }

  const Buffer *find(BufferKind kind, const std::string &ref, int &index) const {
    for (size_t b = 0; b < p_.buffers.size(); ++b)
      if (p_.buffers[b].kind == kind && p_.buffers[b].ref == ref) {
        index = (int)b;
        return &p_.buffers[b];
      }
    return nullptr;
  }

  void checkResults() {
    int b = -1;
    for (auto &[name, n] : f_.outputs) {
      if (!find(BufferKind::Output, name, b))
        problem("output " + name + " has no buffer");
      else if (holds_[b] != valueKey(viewRoot(n)))
        problem("output " + name + " ends holding " +
                (holds_[b].empty() ? "nothing" : holds_[b]) + ", not " + valueKey(viewRoot(n)));
    }
    std::set<std::string> updated;
    for (auto &[var, n] : f_.updates) {
      updated.insert(var);
      if (!find(BufferKind::State, var, b))
        problem("update " + var + " has no state buffer");
      else if (holds_[b] != valueKey(viewRoot(n)))
        problem("variable " + var + " ends holding " +
                (holds_[b].empty() ? "nothing" : holds_[b]) + ", not its update " +
                valueKey(viewRoot(n)));
    }
    for (size_t i = 0; i < p_.buffers.size(); ++i) {
      const Buffer &buf = p_.buffers[i];
      if (buf.kind == BufferKind::State && !updated.count(buf.ref) &&
          holds_[i] != "var " + buf.ref)
        problem("variable " + buf.ref + " is not updated, yet ends holding " + holds_[i]);
    }
  }

  void checkArena() {
    int64_t withoutReuse = 0;
    int steps = (int)p_.calls.size() + 1; // the copies run at step calls.size()
    std::vector<int64_t> live((size_t)steps, 0);
    for (size_t b = 0; b < p_.buffers.size(); ++b) {
      const Buffer &buf = p_.buffers[b];
      if (buf.kind != BufferKind::Arena)
        continue;
      if (buf.offset < 0 || buf.offset % kAlign || buf.offset + buf.type.bytes() > p_.arenaBytes)
        problem("b" + std::to_string(b) + " lies outside the arena or is misaligned");
      if (buf.first < 0 || buf.first > buf.last || buf.last >= steps) {
        problem("b" + std::to_string(b) + " has no valid live range");
        continue;
      }
      withoutReuse += aligned(buf.type.bytes());
      for (int s = buf.first; s <= buf.last; ++s)
        live[(size_t)s] += aligned(buf.type.bytes());
    }
    int64_t bound = *std::max_element(live.begin(), live.end());
    if (p_.withoutReuse != withoutReuse || p_.lowerBound != bound ||
        p_.arenaBytes < p_.lowerBound || p_.arenaBytes > p_.withoutReuse)
      problem("arena figures: arena " + std::to_string(p_.arenaBytes) + ", lower bound " +
              std::to_string(p_.lowerBound) + " (replayed " + std::to_string(bound) +
              "), without reuse " + std::to_string(p_.withoutReuse) + " (replayed " +
              std::to_string(withoutReuse) + ")");
  }
};

} // namespace

std::string planProblem(const Module &m) {
  std::string out;
  for (auto &f : m.functions)
    if (f->plan.planned)
      out += PlanReplay(*f).run();
  return out;
}

TensorMap testVars(const Module &m, uint64_t seed) {
  TensorMap vars = initVarsForTest(m, seed);
  std::mt19937_64 rng(seed ^ 0x5eed);
  for (const VarDecl &v : m.vars)
    if (v.trainable && v.type.dtype == DType::F32)
      for (double &x : vars[v.name].data)
        x = (double)(float)(x + ((rng() >> 40) / double(1 << 24) - 0.5) * 0.2);
  return vars;
}

namespace {

// max |a - b| / max(1, max |b|), with NaN matching only NaN and an infinity
// only itself; infinity when the shapes differ.
double difference(const Tensor &a, const Tensor &b) {
  if (a.type != b.type)
    return INFINITY;
  double diff = 0, scale = 1;
  for (size_t i = 0; i < a.data.size(); ++i) {
    double x = a.data[i], y = b.data[i];
    if (std::isnan(x) || std::isnan(y) || std::isinf(x) || std::isinf(y)) {
      if (!(x == y || (std::isnan(x) && std::isnan(y))))
        return INFINITY;
      continue;
    }
    diff = std::max(diff, std::fabs(x - y));
    scale = std::max(scale, std::fabs(y));
  }
  return diff / scale;
}

std::string num(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

} // namespace

std::string semanticsProblem(const Module &before, const Module &after,
                             const TensorMap &inputs, const TensorMap &vars) {
  std::unique_ptr<Module> withGrads = cloneModule(before);
  runAutodiff(*withGrads);
  runSimplify(*withGrads);
  std::unique_ptr<Module> withUpdates = cloneModule(*withGrads);
  runOptimizerUpdate(*withUpdates);
  std::string out;
  for (auto &f : after.functions) {
    const Function *orig = before.findFunction(f->name);
    if (!orig) {
      out += "func " + f->name + " is not in the frontend's module\n";
      continue;
    }
    InterpResult got = interpret(*f, inputs, vars), want = interpret(*orig, inputs, vars);
    for (auto &[name, t] : want.outputs) {
      auto it = got.outputs.find(name);
      double d = it == got.outputs.end() ? INFINITY : difference(it->second, t);
      if (!(d <= 1e-6))
        out += "func " + f->name + ": output " + name + " differs after the passes by " +
               num(d) + "\n";
    }
    if (!f->isTrain() || !orig->isTrain())
      continue;
    // The optimizer pass consumes the grads: they are checked on the module
    // after autodiff and simplify only, and `after`'s updates against the
    // optimizer expanded from those (simplify once before it, not after).
    const Function *gf = withGrads->findFunction(f->name);
    const Function *uf = withUpdates->findFunction(f->name);
    InterpResult gotGrads = interpret(*gf, inputs, vars);
    InterpResult wantUpdates = interpret(*uf, inputs, vars);
    for (auto &[var, t] : wantUpdates.updates) {
      auto it = got.updates.find(var);
      double d = it == got.updates.end() ? INFINITY : difference(it->second, t);
      if (!(d <= 1e-6))
        out += "func " + f->name + ": update " + var + " differs by " + num(d) +
               " from the optimizer's expansion before simplify\n";
    }
    // Central differences of the frontend's loss, at two step sizes: where
    // they disagree, the loss has a kink (relu, max, clip) within reach and
    // the element says nothing about autodiff.
    const std::string lossName = orig->train->loss->name;
    auto lossAt = [&](const TensorMap &v) {
      return interpret(*orig, inputs, v).values.at(lossName).data.at(0);
    };
    if (!std::isfinite(want.values.at(lossName).data.at(0)))
      continue;
    TensorMap moved = vars;
    auto central = [&](const std::string &p, size_t i, double h) {
      double x = vars.at(p).data[i];
      moved[p].data[i] = x + h;
      double up = lossAt(moved);
      moved[p].data[i] = x - h;
      double down = lossAt(moved);
      moved[p].data[i] = x;
      return (up - down) / (2 * h);
    };
    // A param the loss reads through a stop_gradient has a finite
    // difference that autodiff rightly ignores.
    std::vector<Node *> stopped;
    for (auto &n : orig->nodes)
      if (n->op == OpKind::StopGradient)
        stopped.push_back(n->operands[0]);
    std::set<std::string> behindStop;
    for (const Node *n : reachableFrom(stopped))
      if (n->op == OpKind::Var)
        behindStop.insert(n->attrs.getString("name"));
    // Up to four params spread over the list (first layers and last), two
    // elements each: the first and one inside.
    std::vector<std::string> params;
    for (const std::string &p : f->train->params)
      if (!behindStop.count(p))
        params.push_back(p);
    size_t count = std::min<size_t>(params.size(), 4);
    for (size_t j = 0; j < count; ++j) {
      const std::string &p = params[j * params.size() / count];
      auto g = gotGrads.grads.find(p);
      if (g == gotGrads.grads.end()) {
        out += "func " + f->name + ": no gradient for param " + p + "\n";
        continue;
      }
      size_t n = g->second.data.size();
      std::vector<size_t> picks = {0};
      if (n > 1)
        picks.push_back(n / 2 + (n > 2));
      for (size_t i : picks) {
        double coarse = central(p, i, 1e-4), fine = central(p, i, 5e-5);
        if (!std::isfinite(coarse) || std::fabs(coarse - fine) > 1e-6 * (1 + std::fabs(fine)))
          continue;
        double analytic = g->second.data[i];
        if (!(std::fabs(analytic - fine) <= 1e-5 * (1 + std::fabs(fine))))
          out += "func " + f->name + ": d loss / d " + p + "[" + std::to_string(i) +
                 "] is " + num(analytic) + " by autodiff, " + num(fine) +
                 " by finite differences\n";
      }
    }
  }
  return out;
}

std::string pipelineProblem(Module &m, const PipelineOptions &opts) {
  std::string p = runVerifiedPipeline(m, opts);
  if (!p.empty())
    return p;
  for (auto &f : m.functions)
    if (!f->plan.planned)
      return "func " + f->name + " has no plan after the pipeline";
  p = planProblem(m);
  if (!p.empty())
    return p;
  return roundTripProblem(m);
}

} // namespace dlc::fuzz
