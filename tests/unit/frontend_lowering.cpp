// Frontend: shapes, names, params, entry points and TrainSpecs of lowered models.
#include <doctest/doctest.h>

#include "frontend/Frontend.h"
#include "ir/Verifier.h"

#include <cmath>
#include <sstream>

using namespace dlc;

namespace {

struct Compiled {
  std::unique_ptr<Module> module;
  std::string errs;
};

Compiled compile(const std::string &text, FrontendOptions opts = {}) {
  std::ostringstream errs;
  Compiled c;
  c.module = compileModelSource("t.dl", text, errs, opts);
  c.errs = errs.str();
  if (c.module)
    CHECK(verifyModule(*c.module).empty());
  return c;
}

std::vector<std::string> nodeNames(const Function &f) {
  std::vector<std::string> names;
  for (auto &n : f.nodes)
    names.push_back(n->name);
  return names;
}

// A model with one output `y = EXPR` over x : f32[4, 3]; returns y's type.
std::string outputType(const std::string &expr, const std::string &extra = "") {
  Compiled c = compile("model m {\n  input x : f32[4, 3]\n" + extra + "  output y = " + expr +
                       "\n}\n");
  if (!c.module)
    return "error: " + c.errs;
  return c.module->findFunction("predict")->outputs.at(0).second->type.str();
}

} // namespace

TEST_CASE("lowering: mnist_mlp gives the Keras params, predict and step") {
  std::ostringstream errs;
  auto m = compileModelFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl", errs);
  REQUIRE_MESSAGE(m, errs.str());
  CHECK(m->name == "mnist_mlp");
  REQUIRE(m->inputs.size() == 2);
  CHECK(m->inputs[0].name == "x");
  CHECK(m->inputs[0].type == TensorType::f32({128, 28, 28}));
  CHECK(m->inputs[1].type == TensorType::i32({128}));

  std::vector<std::string> vars;
  for (auto &v : m->vars) {
    vars.push_back(v.name + " " + v.type.str());
    CHECK(v.trainable);
  }
  CHECK(vars == std::vector<std::string>{"dense_1.w f32[784, 128]", "dense_1.b f32[128]",
                                         "dense_2.w f32[128, 10]", "dense_2.b f32[10]"});
  // glorot_uniform: limit sqrt(6 / (fan_in + fan_out)); bias zeros.
  const VarDecl *w = m->findVar("dense_1.w");
  CHECK(w->init.kind == Init::Uniform);
  CHECK(w->init.b == doctest::Approx(std::sqrt(6.0 / (784 + 128))));
  CHECK(w->init.a == doctest::Approx(-w->init.b));
  CHECK(m->findVar("dense_2.b")->init.kind == Init::Zeros);
  CHECK(*w->loc.file == "prelude.dl");

  REQUIRE(m->functions.size() == 2);
  Function *predict = m->findFunction("predict");
  REQUIRE(predict);
  REQUIRE(predict->outputs.size() == 1);
  CHECK(predict->outputs[0].first == "probs");
  CHECK(predict->outputs[0].second->type == TensorType::f32({128, 10}));
  CHECK(predict->outputs[0].second->op == OpKind::Softmax);
  CHECK(!predict->isTrain());
  // Predict needs only the pixels; the labels belong to training.
  CHECK(predict->inputNames() == std::vector<std::string>{"x"});
  auto names = nodeNames(*predict);
  CHECK(names == std::vector<std::string>{"x", "h", "dense_1.w", "dense_1.b", "dense_1.t",
                                          "dense_1.y", "h.1", "dense_2.w", "dense_2.b",
                                          "dense_2.t", "logits", "probs"});

  Function *step = m->findFunction("step");
  REQUIRE(step);
  REQUIRE(step->isTrain());
  const TrainSpec &t = *step->train;
  CHECK(t.optimizer == "adam");
  CHECK(t.hyperOr("lr", 0) == doctest::Approx(0.001));
  CHECK(t.hyper.size() == 1);
  CHECK(t.params == std::vector<std::string>{"dense_1.w", "dense_1.b", "dense_2.w", "dense_2.b"});
  REQUIRE(t.loss);
  CHECK(t.loss->name == "loss");
  CHECK(t.loss->type == TensorType::f32({}));
  CHECK(t.loss->op == OpKind::ReduceMean);
  CHECK(t.loss->operands[0]->op == OpKind::SparseXent);
  REQUIRE(step->outputs.size() == 1);
  CHECK(step->outputs[0].first == "loss");
  CHECK(step->outputs[0].second == t.loss);
  CHECK(step->find("probs") == nullptr); // only what the loss depends on
  CHECK(step->inputNames() == std::vector<std::string>{"x", "y"});
  // Locations: the user's file as given, and the prelude for layer internals.
  CHECK(t.loss->loc.str() == DLC_SOURCE_DIR "/examples/mnist_mlp.dl:12:12");
  CHECK(step->find("dense_1.y")->loc.str() == "prelude.dl:18:13");
  for (auto &n : step->nodes)
    CHECK_MESSAGE(n->loc.known(), n->name);
}

TEST_CASE("lowering: header constants, their overrides and constant dims") {
  const char *src = "model m(batch = 8, hidden = batch * 2) {\n"
                    "  input x : f32[batch, hidden / 4]\n"
                    "  output y = relu(x)\n}\n";
  Compiled c = compile(src);
  REQUIRE(c.module);
  CHECK(c.module->inputs[0].type == TensorType::f32({8, 4}));
  FrontendOptions o;
  o.constants["batch"] = 32;
  Compiled d = compile(src, o);
  REQUIRE(d.module);
  CHECK(d.module->inputs[0].type == TensorType::f32({32, 16}));
  o.constants["bogus"] = 1;
  Compiled e = compile(src, o);
  CHECK(!e.module);
  CHECK(e.errs.find("t.dl:1:7: error: -Dbogus=1: model 'm' has no header constant 'bogus' to "
                    "override") == 0);
}

TEST_CASE("lowering: static shapes of the primitive ops") {
  CHECK(outputType("x * 2 + 1") == "f32[4, 3]");
  CHECK(outputType("x - b", "  param b : f32[3] = zeros()\n") == "f32[4, 3]");
  CHECK(outputType("-x / x") == "f32[4, 3]");
  CHECK(outputType("x @ w", "  param w : f32[3, 7] = normal(0, 0.01)\n") == "f32[4, 7]");
  CHECK(outputType("matmul(x, w)", "  param w : f32[3, 7] = zeros()\n") == "f32[4, 7]");
  CHECK(outputType("reshape(x, [2, -1])") == "f32[2, 6]");
  CHECK(outputType("reshape(x, [dim(x, 1), dim(x, 0) * rank(x) / 2])") == "f32[3, 4]");
  CHECK(outputType("sum(x, 1)") == "f32[4]");
  CHECK(outputType("mean(x, axis = -1)") == "f32[4]");
  CHECK(outputType("sum(x, [0, 1])") == "f32[]");
  CHECK(outputType("mean(x)") == "f32[]");
  CHECK(outputType("softmax(exp(log(sqrt(relu(x)))))") == "f32[4, 3]");
  CHECK(outputType("flatten(reshape(x, [4, 3, 1]))") == "f32[4, 3]");
  CHECK(outputType("dense(x, 5, softmax)") == "f32[4, 5]");
  CHECK(outputType("dense(x, units = 5)") == "f32[4, 5]");
  CHECK(outputType("max(x, 1)") == "f32[4]");
  CHECK(outputType("max(x)") == "f32[]");
  CHECK(outputType("sum(x, 1, keepdims = true)") == "f32[4, 1]");
  CHECK(outputType("mean(x, keepdims = true)") == "f32[1, 1]");
  CHECK(outputType("max(x, [-1, 0], true)") == "f32[1, 1]");
  CHECK(outputType("max(x, 0, keepdims = false)") == "f32[3]");
  CHECK(outputType("softmax(x, axis = 0)") == "f32[4, 3]");
  CHECK(outputType("log_softmax(x)") == "f32[4, 3]");
  CHECK(outputType("transpose(x)") == "f32[3, 4]");
  CHECK(outputType("transpose(reshape(x, [2, 3, 2]), [2, 0, 1])") == "f32[2, 2, 3]");
  CHECK(outputType("transpose(reshape(x, [2, 3, 2]))") == "f32[2, 3, 2]"); // reversed
  CHECK(outputType("stop_gradient(x)") == "f32[4, 3]");
}

TEST_CASE("lowering: a softmax on the last axis is spelled without one") {
  for (const char *call : {"softmax(x)", "softmax(x, -1)", "softmax(x, axis = 1)"}) {
    INFO(call);
    Compiled c = compile(std::string("model m {\n  input x : f32[4, 3]\n  output y = ") + call +
                         "\n}\n");
    REQUIRE(c.module);
    CHECK(c.module->findFunction("predict")->outputs.at(0).second->attrs.empty());
  }
  Compiled c = compile("model m {\n  input x : f32[4, 3]\n  output y = softmax(x, 0)\n}\n");
  REQUIRE(c.module);
  CHECK(c.module->findFunction("predict")->outputs.at(0).second->attrs.getInt("axis", -1) == 0);
}

TEST_CASE("lowering: shape errors come from the IR's rules with both shapes") {
  CHECK(outputType("x @ x") == "error: t.dl:3:16: error: matmul: inner dimensions differ: "
                               "f32[4, 3] @ f32[4, 3]\n  output y = x @ x\n               ^\n");
  CHECK(outputType("sum(x, 2)").find("sum: axis 2 is out of range for f32[4, 3] (valid: -2 "
                                     "to 1)") != std::string::npos);
  CHECK(outputType("reshape(x, [5])").find(
            "reshape: cannot reshape f32[4, 3] to f32[5] (element counts differ)") !=
        std::string::npos);
}

TEST_CASE("lowering: params of functions are named by instance, nested too") {
  Compiled c = compile("fn block(x, n) {\n"
                       "  h = dense(x, n, relu)\n"
                       "  return dense(h, n)\n}\n"
                       "model m {\n  input x : f32[2, 3]\n"
                       "  a = block(x, 4)\n  b = block(a, 5)\n"
                       "  param s : f32[] = ones()\n"
                       "  output y = dense(b, 1) * s\n}\n");
  REQUIRE_MESSAGE(c.module, c.errs);
  std::vector<std::string> vars;
  for (auto &v : c.module->vars)
    vars.push_back(v.name + " " + v.type.str());
  CHECK(vars == std::vector<std::string>{
                    "block_1.dense_1.w f32[3, 4]", "block_1.dense_1.b f32[4]",
                    "block_1.dense_2.w f32[4, 4]", "block_1.dense_2.b f32[4]",
                    "block_2.dense_1.w f32[4, 5]", "block_2.dense_1.b f32[5]",
                    "block_2.dense_2.w f32[5, 5]", "block_2.dense_2.b f32[5]",
                    "s f32[]", "dense_1.w f32[5, 1]", "dense_1.b f32[1]"});
  CHECK(c.module->findVar("s")->init.kind == Init::Constant);
  CHECK(c.module->findVar("s")->init.a == 1);
  Function *p = c.module->findFunction("predict");
  CHECK(p->find("block_1.h"));
  CHECK(p->find("a"));
  CHECK(p->find("b"));
  CHECK(*p->find("a")->loc.file == "prelude.dl");
}

TEST_CASE("lowering: names the user wrote win over temporaries that come first") {
  // The constant 2 is made before `param c` and `t` is bound after a
  // temporary "t": names are given sources first, then bindings.
  Compiled c = compile("model m {\n  input x : f32[2]\n  h = x * 2 + 1\n"
                       "  param c : f32[2] = ones()\n  t = h + c\n  output y = t\n}\n");
  REQUIRE_MESSAGE(c.module, c.errs);
  Function *p = c.module->findFunction("predict");
  CHECK(nodeNames(*p) == std::vector<std::string>{"x", "c.1", "t.1", "c.2", "h", "c", "t"});
  CHECK(p->find("c")->op == OpKind::Var);
  CHECK(p->find("t")->op == OpKind::Add);
  CHECK(p->find("t")->operands[1] == p->find("c"));
}

TEST_CASE("lowering: initializers resolve to Init kinds from the param's shape") {
  Compiled c = compile("model m {\n  input x : f32[2, 6]\n"
                       "  param a : f32[6, 3] = he_normal()\n"
                       "  param b : f32[6, 3] = glorot_normal()\n"
                       "  param c : f32[3, 3, 2, 4] = he_uniform()\n"
                       "  param d : f32[3] = constant(0.5)\n"
                       "  param e : f32[3] = uniform(-1, hi = 2)\n"
                       "  output y = (x @ a + x @ b + d + e) * sum(c)\n}\n");
  REQUIRE_MESSAGE(c.module, c.errs);
  const Module &m = *c.module;
  CHECK(m.findVar("a")->init.kind == Init::Normal);
  CHECK(m.findVar("a")->init.b == doctest::Approx(std::sqrt(2.0 / 6)));
  CHECK(m.findVar("b")->init.b == doctest::Approx(std::sqrt(2.0 / 9)));
  // Conv kernel [h, w, in, out]: fan_in = 3 * 3 * 2.
  CHECK(m.findVar("c")->init.kind == Init::Uniform);
  CHECK(m.findVar("c")->init.b == doctest::Approx(std::sqrt(6.0 / 18)));
  CHECK(m.findVar("d")->init.kind == Init::Constant);
  CHECK(m.findVar("d")->init.a == 0.5);
  CHECK(m.findVar("e")->init.a == -1);
  CHECK(m.findVar("e")->init.b == 2);
}

TEST_CASE("lowering: train entries take only the params their loss reads") {
  Compiled c = compile("model m {\n  input x : f32[4, 3]\n  input t : i32[4]\n"
                       "  param unused : f32[3] = zeros()\n"
                       "  logits = dense(x, 5)\n"
                       "  l1 = cross_entropy(logits, t)\n"
                       "  l2 = mean(dense(x, 2) * dense(x, 2))\n"
                       "  train a(l1, sgd(0.5))\n"
                       "  train b(loss = l2, optimizer = adam(lr = 0.01, beta2 = 0.99, eps = 1e-7))\n}\n");
  REQUIRE_MESSAGE(c.module, c.errs);
  CHECK(!c.module->findFunction("predict"));
  Function *a = c.module->findFunction("a");
  Function *b = c.module->findFunction("b");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->train->optimizer == "sgd");
  CHECK(a->train->hyper == std::vector<std::pair<std::string, double>>{{"lr", 0.5}});
  CHECK(a->train->params == std::vector<std::string>{"dense_1.w", "dense_1.b"});
  CHECK(b->train->params == std::vector<std::string>{"dense_2.w", "dense_2.b", "dense_3.w",
                                                     "dense_3.b"});
  CHECK(b->train->hyperOr("beta2", 0) == doctest::Approx(0.99));
  CHECK(b->train->hyperOr("eps", 0) == doctest::Approx(1e-7));
  CHECK(b->inputNames() == std::vector<std::string>{"x"});
}

TEST_CASE("lowering: a user function shadows the prelude's, and functions are values") {
  Compiled c = compile("fn dense(x, units) {\n  return x * 2\n}\n"
                       "fn apply(f, x) {\n  return f(x)\n}\n"
                       "model m {\n  input x : f32[4, 3]\n"
                       "  act = relu\n"
                       "  output y = apply(act, dense(x, 7))\n}\n");
  REQUIRE_MESSAGE(c.module, c.errs);
  CHECK(c.module->vars.empty());
  Function *p = c.module->findFunction("predict");
  CHECK(p->outputs[0].second->op == OpKind::Relu);
  CHECK(p->outputs[0].second->type == TensorType::f32({4, 3}));
}

TEST_CASE("lowering: train entries output the class scores of their own forward pass when asked") {
  const std::string src = "model m(batch = 4) {\n  input x : f32[batch, 3]\n  input t : i32[batch]\n"
                          "  input z : f32[batch, 5]\n"
                          "  logits = dense(dropout(x, 0.5), 5)\n"
                          "  output probs = softmax(logits)\n"
                          "  train step(cross_entropy(logits, t), sgd(0.5))\n"
                          "  train other(mean(dense(z, 1)), sgd(0.5))\n}\n";
  // By default the train entries output only their loss: the generated
  // library's step functions keep their arguments.
  Compiled plain = compile(src);
  REQUIRE_MESSAGE(plain.module, plain.errs);
  REQUIRE(plain.module->findFunction("step")->outputs.size() == 1);

  FrontendOptions opts;
  opts.scoresInTrainEntries = true;
  Compiled c = compile(src, opts);
  REQUIRE_MESSAGE(c.module, c.errs);
  const Function *step = c.module->findFunction("step");
  REQUIRE(step->outputs.size() == 2);
  CHECK(step->outputs[0].first == "loss");
  CHECK(step->outputs[1].first == "probs");
  CHECK(step->outputs[1].second->type == TensorType::f32({4, 5}));
  CHECK(step->outputs[1].second->op == OpKind::Softmax);
  // The scores come from the step's forward pass, dropout and all (predict
  // leaves dropout out), and add no input to the entry.
  bool dropout = false;
  for (auto &n : step->nodes)
    dropout |= n->op == OpKind::Dropout;
  CHECK(dropout);
  CHECK(step->inputNames() == plain.module->findFunction("step")->inputNames());
  // `other` never reads x: its scores would add an input, so it has none.
  CHECK(c.module->findFunction("other")->outputs.size() == 1);
  CHECK(c.module->findFunction("predict")->outputs.size() == 1);
}
