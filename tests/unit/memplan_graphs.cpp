// Fusion and memory planning on random graphs: chains and diamonds of maps,
// broadcasts, views, matmuls, reductions, row-wise ops, updates written in
// place and outputs written to the caller. Every plan is checked by
// verifyPlan (plain loops over the buffers, not the planner's code: no two
// arena buffers live at one step share a byte, kernels run after what they
// read), and a sample runs compiled against the interpreter, fused and not,
// which catches an in-place buffer overwritten too early.
#include "ir/Builder.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/Fusion.h"
#include "passes/MemoryPlan.h"
#include "passes/MemoryPlanner.h"
#include "tests/unit/grad_support.h"
#include "tests/unit/jit_support.h"

#include <doctest/doctest.h>

#include <random>

using namespace dlc;
using namespace dlc::testing;

namespace {

// A random model "g": a few inputs and variables of a handful of shapes, a
// predict-like function built from random ops over earlier values, some of
// them outputs and some updates of same-typed variables.
std::unique_ptr<Module> randomModel(std::mt19937 &rng) {
  auto m = std::make_unique<Module>();
  m->name = "g";
  const std::vector<Dims> shapes = {{4, 6}, {6}, {4, 1}, {}, {6, 4}, {4, 6}};
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  Function &f = m->addFunction("f");
  Builder b(f);
  std::vector<Node *> values;
  for (int i = 0; i < 3; ++i) {
    TensorType t = TensorType::f32(shapes[pick(shapes.size())]);
    m->inputs.push_back({"x" + std::to_string(i), t, {}});
    values.push_back(b.input("x" + std::to_string(i), t));
  }
  for (int i = 0; i < 3; ++i) {
    TensorType t = TensorType::f32(shapes[pick(shapes.size())]);
    m->vars.push_back({"v" + std::to_string(i), t, {Init::Uniform, 0.5, 1.5}, true, {}});
    values.push_back(b.var("v" + std::to_string(i), t));
  }
  int steps = 4 + (int)pick(14);
  for (int s = 0; s < steps; ++s) {
    Node *a = values[pick(values.size())], *c = values[pick(values.size())];
    Node *n = nullptr;
    switch (pick(10)) {
    case 0: n = b.unary(OpKind::Relu, a); break;
    case 1: n = b.unary(OpKind::Neg, a); break;
    case 2: n = b.unary(OpKind::Exp, b.mul(a, b.constant(0.1))); break;
    case 3:
    case 4: {
      auto d = broadcastDims(a->type.dims, c->type.dims);
      n = d ? b.add(a, c) : b.mul(a, b.constant(0.5));
      break;
    }
    case 5: {
      auto d = broadcastDims(a->type.dims, c->type.dims);
      n = d ? b.mul(a, c) : b.sub(a, b.constant(1.0));
      break;
    }
    case 6: // a view, then a map over it
      n = a->type.rank() == 2 ? b.unary(OpKind::Relu, b.reshape(a, {a->type.numel()}))
                              : b.reshape(a, {1, a->type.numel()});
      break;
    case 7: // a matmul where the shapes allow one
      if (a->type.dims == Dims{4, 6})
        n = b.matmul(a, b.var("w", TensorType::f32({6, 4})));
      else if (a->type.dims == Dims{6, 4})
        n = b.matmul(a, a, true, false);
      else
        n = b.unary(OpKind::Sqrt, b.add(b.mul(a, a), b.constant(1.0)));
      break;
    case 8:
      n = a->type.rank() > 0 ? b.reduceSum(a, {a->type.rank() - 1})
                             : b.add(a, b.constant(2.0));
      break;
    case 9:
      n = a->type.rank() > 0 ? b.unary(OpKind::Softmax, a) : b.neg(a);
      break;
    }
    values.push_back(n);
  }
  if (!m->findVar("w"))
    for (auto &np : f.nodes)
      if (np->op == OpKind::Var && np->attrs.getString("name") == "w") {
        m->vars.push_back({"w", TensorType::f32({6, 4}), {Init::Uniform, -1, 1}, true, {}});
        break;
      }
  // Roots: the last value, a few random ones, and updates where types match.
  f.outputs.push_back({"y", values.back()});
  for (int o = 0; o < 2; ++o)
    f.outputs.push_back({"o" + std::to_string(o), values[6 + pick(values.size() - 6)]});
  for (const VarDecl &v : m->vars)
    for (size_t i = values.size(); i-- > 6;)
      if (values[i]->type == v.type && pick(2)) {
        f.updates.push_back({v.name, values[i]});
        break;
      }
  // Only a train entry changes variables; one with no params is not
  // differentiated, so its updates stay as they are.
  if (!f.updates.empty()) {
    Builder b(f);
    Node *loss = b.constant(0.0, TensorType::f32({}));
    f.train = TrainSpec{loss, {}, "sgd", {}};
  }
  f.removeDeadNodes();
  return m;
}

} // namespace

TEST_CASE("memory planning: random graphs get valid plans, fused and not") {
  std::mt19937 rng(2024);
  int graphs = 0, inPlace = 0, compiled = 0, exactCompared = 0, exactHit = 0;
  double worstRatio = 1;
  for (int i = 0; i < 300; ++i) {
    auto m = randomModel(rng);
    REQUIRE(problems(*m) == "");
    INFO(printModule(*m));
    for (bool fuse : {true, false}) {
      auto planned = cloneModule(*m);
      fuse ? runFusion(*planned) : runNoFusion(*planned);
      runMemoryPlan(*planned);
      const Function &f = *planned->functions[0];
      std::vector<std::string> bad = verifyPlan(f);
      INFO(printFused(f) << printMemPlan(f));
      CHECK(bad.empty());
      for (const std::string &p : bad)
        MESSAGE(p);
      CHECK(f.plan.arenaBytes >= f.plan.lowerBound);
      CHECK(f.plan.arenaBytes <= f.plan.withoutReuse);
      std::vector<BufferInterval> arena;
      for (const Buffer &buf : f.plan.buffers) {
        inPlace += buf.name.find('|') != std::string::npos;
        if (buf.kind == BufferKind::Arena)
          arena.push_back({buf.type.bytes(), buf.first, buf.last});
      }
      if (!arena.empty() && arena.size() <= kMaxExactBuffers) {
        int64_t best = optimalArenaBytes(arena, 64);
        CHECK(f.plan.arenaBytes >= best);
        ++exactCompared;
        if (f.plan.arenaBytes == best)
          ++exactHit;
        worstRatio = std::max(worstRatio, (double)f.plan.arenaBytes / (double)best);
      }
      ++graphs;
    }
    if (i % 5 == 0) { // compiled (fused inside jitRun) against the interpreter
      INFO(printModule(*m));
      TensorMap inputs, vars = initVarsForTest(*m, 3), ref = vars;
      std::mt19937 data(i);
      for (const InputDecl &in : m->inputs)
        inputs[in.name] = randomTensor({in.type, 0.5f, 1.5f}, data);
      InterpResult want = interpret(*m->functions[0], inputs, ref);
      TensorMap got = jitRun(*m, 0, inputs, vars);
      for (auto &[name, t] : want.outputs) {
        CAPTURE(name);
        checkClose(got.at(name).data, t.data, 1e-4);
      }
      for (auto &[name, t] : want.updates) {
        CAPTURE(name);
        checkClose(vars.at(name).data, t.data, 1e-4);
      }
      ++compiled;
    }
  }
  MESSAGE(graphs << " plans checked, " << inPlace << " in-place buffers among them, "
                 << compiled << " graphs compiled and compared");
  MESSAGE("planner vs exhaustive optimum on " << exactCompared << " plans of <= "
                                             << kMaxExactBuffers << " arena buffers: optimal in "
                                             << exactHit << ", worst ratio " << worstRatio);
  CHECK(inPlace > 0); // the generator does exercise in-place reuse
}
