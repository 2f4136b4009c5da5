// Unit tests of the IR text printer, its round trip through the parser, and
// the DOT export. makeMlpModule() is the hand-built module the other ir_*
// tests share.
#include "ir/BufferIR.h"
#include "ir/Builder.h"
#include "ir/Dot.h"
#include "ir/IRParser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

using namespace dlc;

namespace dlc::irtest {

// A two-layer classifier as the frontend and autodiff would leave it: a
// predict function, and a train step with its gradients and SGD updates.
std::unique_ptr<Module> makeMlpModule() {
  auto m = std::make_unique<Module>();
  m->name = "mlp";
  auto file = std::make_shared<const std::string>("mlp.dl");
  auto at = [&](int line, int col) { return SourceLoc{file, line, col}; };
  TensorType xt = TensorType::f32({4, 3}), yt = TensorType::i32({4});
  TensorType wt = TensorType::f32({3, 2}), bt = TensorType::f32({2});
  m->inputs.push_back({"x", xt, at(2, 10)});
  m->inputs.push_back({"y", yt, at(3, 10)});
  m->vars.push_back({"w", wt, {Init::Normal, 0, 0.01}, true, at(5, 3)});
  m->vars.push_back({"b", bt, {Init::Zeros, 0, 0}, true, at(6, 3)});
  m->vars.push_back({"step.sgd.t", TensorType::f32({}), {}, false, {}});

  // The forward graph, shared by both functions.
  struct Forward {
    Node *x, *w, *b, *t, *h, *r;
  };
  auto forward = [&](Builder &bld) {
    Forward fw;
    bld.setLoc(at(2, 10));
    fw.x = bld.input("x", xt);
    bld.setLoc({});
    fw.w = bld.var("w", wt);
    fw.b = bld.var("b", bt);
    bld.setLoc(at(8, 7));
    fw.t = bld.create(OpKind::MatMul, {fw.x, fw.w}, {}, "t");
    fw.h = bld.create(OpKind::Add, {fw.t, fw.b}, {}, "h");
    bld.setLoc(at(8, 20));
    fw.r = bld.create(OpKind::Relu, {fw.h}, {}, "h"); // a repeat: becomes h.1
    return fw;
  };

  Function &predict = m->addFunction("predict");
  Builder p(predict);
  Forward pf = forward(p);
  p.setLoc(at(10, 16));
  predict.outputs.push_back({"probs", p.create(OpKind::Softmax, {pf.r}, {}, "probs")});

  Function &step = m->addFunction("step");
  Builder s(step);
  Forward sf = forward(s);
  s.setLoc(at(3, 10));
  Node *y = s.input("y", yt);
  s.setLoc(at(11, 10));
  Node *xent = s.create(OpKind::SparseXent, {sf.r, y}, {}, "xent");
  Attrs axes;
  axes.set("axes", std::vector<int64_t>{0});
  Node *loss = s.create(OpKind::ReduceMean, {xent}, axes, "loss");

  // The adjoint graph, each node noting the forward node it differentiates.
  s.setGradOf(loss);
  Attrs one;
  one.set("value", 0.25);
  Node *dxent = s.create(OpKind::Constant, {}, one, "d.xent", &xent->type);
  s.setGradOf(xent);
  Node *dr = s.create(OpKind::SparseXentGrad, {dxent, sf.r, y}, {}, "d.h.1");
  s.setLoc(at(8, 20));
  s.setGradOf(sf.r);
  Node *dh = s.create(OpKind::ReluGrad, {dr, sf.h}, {}, "d.h");
  s.setLoc(at(8, 7));
  s.setGradOf(sf.h);
  Node *db = s.create(OpKind::ReduceSum, {dh}, axes, "d.b");
  s.setGradOf(sf.t);
  Attrs ta;
  ta.set("transpose_a", int64_t(1));
  Node *dw = s.create(OpKind::MatMul, {sf.x, dh}, ta, "d.w");

  s.setLoc({});
  s.setGradOf(nullptr);
  Node *lr = s.constant(0.1);
  Node *wNew = s.create(OpKind::Sub, {sf.w, s.create(OpKind::Mul, {dw, lr}, {}, "s")}, {},
                        "w.new");
  Node *bNew = s.create(OpKind::Sub, {sf.b, s.create(OpKind::Mul, {db, lr}, {}, "s")}, {},
                        "b.new");
  step.train = TrainSpec{loss, {"w", "b"}, "sgd", {{"lr", 0.1}}};
  step.updates = {{"w", wNew}, {"b", bNew}};
  step.outputs = {{"loss", loss}};
  return m;
}

} // namespace dlc::irtest

// Written out by hand from docs/IR.md: the shape of the text is the contract.
static const char *kMlpText = R"(model mlp

input x : f32[4, 3]                              @mlp.dl:2:10
input y : i32[4]                                 @mlp.dl:3:10
param w : f32[3, 2] = normal(0, 0.01)            @mlp.dl:5:3
param b : f32[2] = zeros()                       @mlp.dl:6:3
state step.sgd.t : f32[] = zeros()

func predict {
  %x = input {name = "x"} : f32[4, 3]            @mlp.dl:2:10
  %w = var {name = "w"} : f32[3, 2]
  %b = var {name = "b"} : f32[2]
  %t = matmul(%x, %w) : f32[4, 2]                @mlp.dl:8:7
  %h = add(%t, %b) : f32[4, 2]                   @mlp.dl:8:7
  %h.1 = relu(%h) : f32[4, 2]                    @mlp.dl:8:20
  %probs = softmax(%h.1) : f32[4, 2]             @mlp.dl:10:16
  output probs = %probs
}

func step {
  %x = input {name = "x"} : f32[4, 3]            @mlp.dl:2:10
  %w = var {name = "w"} : f32[3, 2]
  %b = var {name = "b"} : f32[2]
  %t = matmul(%x, %w) : f32[4, 2]                @mlp.dl:8:7
  %h = add(%t, %b) : f32[4, 2]                   @mlp.dl:8:7
  %h.1 = relu(%h) : f32[4, 2]                    @mlp.dl:8:20
  %y = input {name = "y"} : i32[4]               @mlp.dl:3:10
  %xent = sparse_xent(%h.1, %y) : f32[4]         @mlp.dl:11:10
  %loss = reduce_mean(%xent) {axes = [0]} : f32[]  @mlp.dl:11:10
  %d.xent = const {value = 0.25} : f32[4]        @mlp.dl:11:10  grad_of %loss
  %d.h.1 = sparse_xent_grad(%d.xent, %h.1, %y) : f32[4, 2]  @mlp.dl:11:10  grad_of %xent
  %d.h = relu_grad(%d.h.1, %h) : f32[4, 2]       @mlp.dl:8:20  grad_of %h.1
  %d.b = reduce_sum(%d.h) {axes = [0]} : f32[2]  @mlp.dl:8:7  grad_of %h
  %d.w = matmul(%x, %d.h) {transpose_a = 1} : f32[3, 2]  @mlp.dl:8:7  grad_of %t
  %c = const {value = 0.1} : f32[]
  %s = mul(%d.w, %c) : f32[3, 2]
  %w.new = sub(%w, %s) : f32[3, 2]
  %s.1 = mul(%d.b, %c) : f32[2]
  %b.new = sub(%b, %s.1) : f32[2]
  train loss = %loss, optimizer = sgd(lr = 0.1), params = [w, b]
  update w = %w.new
  update b = %b.new
  output loss = %loss
}
)";

TEST_CASE("ir printer: a hand-built module prints as docs/IR.md shows") {
  auto m = irtest::makeMlpModule();
  REQUIRE(verifyModule(*m).empty());
  std::string text = printModule(*m);
  CHECK(text == kMlpText);
  // Deterministic: printing twice, or a copy, gives the same text.
  CHECK(printModule(*m) == text);
  CHECK(printModule(*cloneModule(*m)) == text);
  CHECK(printFunction(*m->functions[0]) ==
        text.substr(text.find("func predict"), text.find("\nfunc step") -
                                                    text.find("func predict")));
}

TEST_CASE("ir printer: float attributes always read back as floats") {
  Module m;
  m.name = "consts";
  Function &f = m.addFunction("f");
  Builder b(f);
  for (double v : {1.0, -0.0, 100.0, 1e20, 0.1, 3.0e-12, -2.5})
    f.outputs.push_back({"o" + std::to_string(f.outputs.size()), b.constant(v)});
  std::string text = printModule(m);
  for (const char *s : {"value = 1.0}", "value = -0.0}", "value = 100.0}",
                        "value = 1e+20}", "value = 0.1}", "value = 3e-12}",
                        "value = -2.5}"})
    CHECK_MESSAGE(text.find(s) != std::string::npos, s);
  std::string err;
  auto back = parseModuleText(text, "consts.ir", err);
  REQUIRE_MESSAGE(back, err);
  for (auto &n : back->functions[0]->nodes) {
    auto &v = n->attrs.items().at("value");
    CHECK(std::holds_alternative<double>(v));
  }
  CHECK(printModule(*back) == text);
}

TEST_CASE("ir printer: a long line keeps its note two spaces after the code") {
  auto m = irtest::makeMlpModule();
  std::string text = printModule(*m);
  CHECK(text.find(": f32[4, 2]  @mlp.dl:11:10  grad_of %xent\n") != std::string::npos);
}

// An in-place chain's buffer is named by all its values, which passes 500
// characters in the LSTM's train step without fusion: each memplan line
// holds its whole name (a fixed line buffer once cut it, and the newline).
TEST_CASE("ir printer: a memplan line holds a buffer name of any length") {
  Module m;
  m.name = "chain";
  Function &f = m.addFunction("f");
  Buffer buf;
  buf.name = "d.h";
  for (int i = 0; i < 100; ++i)
    buf.name += "|d.h." + std::to_string(i);
  buf.kind = BufferKind::Arena;
  buf.type = TensorType::f32({128, 128});
  buf.first = 0;
  buf.last = 1;
  f.plan.buffers = {buf, buf};
  f.plan.buffers[1].offset = 65536;
  f.plan.planned = true;
  std::string text = printMemPlan(f);
  CHECK(text.find("\n  b0   " + buf.name + " f32[128, 128]      arena @0         live [0, 1]\n"
                  "  b1   " + buf.name + " f32[128, 128]      arena @65536     live [0, 1]\n") !=
        std::string::npos);
}

TEST_CASE("ir round trip: print(parse(print(m))) == print(m)") {
  auto m = irtest::makeMlpModule();
  std::string text = printModule(*m);
  std::string err;
  auto back = parseModuleText(text, "mlp.ir", err);
  REQUIRE_MESSAGE(back, err);
  CHECK(err.empty());
  CHECK(printModule(*back) == text);
  CHECK(verifyModule(*back).empty());

  // The structure came back, not only the text.
  Function *step = back->findFunction("step");
  REQUIRE(step);
  CHECK(step->nodes.size() == m->findFunction("step")->nodes.size());
  Node *r = step->find("h.1");
  REQUIRE(r);
  CHECK(r->op == OpKind::Relu);
  CHECK(r->operands[0] == step->find("h"));
  CHECK(r->loc.str() == "mlp.dl:8:20");
  CHECK(step->find("d.h")->gradOf == r);
  CHECK(step->find("d.xent")->gradOf == step->find("loss"));
  REQUIRE(step->train);
  CHECK(step->train->loss == step->find("loss"));
  CHECK(step->train->params == std::vector<std::string>{"w", "b"});
  CHECK(step->train->hyperOr("lr", 0) == doctest::Approx(0.1));
  CHECK(step->updates[1].second == step->find("b.new"));
  CHECK(back->findVar("w")->init.kind == Init::Normal);
  CHECK(back->findVar("w")->init.b == doctest::Approx(0.01));
  CHECK_FALSE(back->findVar("step.sgd.t")->trainable);
  CHECK(back->findInput("y")->type == TensorType::i32({4}));
  // Nodes of one file share one file-name string.
  CHECK(step->find("t")->loc.file == step->find("h")->loc.file);
}

TEST_CASE("ir round trip: names, comments, odd paths and strings survive") {
  const char *text = R"(model odd  # a comment after the name
# a whole-line comment
input "x" : f32[2]
)";
  std::string err;
  // Declaration names are bare words, not strings.
  CHECK_FALSE(parseModuleText(text, "odd.ir", err));

  Module m;
  m.name = "odd";
  m.inputs.push_back({"x", TensorType::f32({2}),
                      {std::make_shared<const std::string>("my dir/a#b.dl"), 1, 2}});
  Function &f = m.addFunction("f");
  Builder b(f);
  // h.1 defined before h: the parser must keep both names as written.
  Node *x = b.create(OpKind::Input, {}, [] {
    Attrs a;
    a.set("name", std::string("x"));
    return a;
  }(), "h.1", &m.inputs[0].type);
  b.setLoc({std::make_shared<const std::string>("C:\\w\\m.dl"), 3, 4});
  Node *h = b.create(OpKind::Neg, {x}, {}, "h");
  f.outputs = {{"out", h}};
  std::string printed = printModule(m);
  CHECK(printed.find("@\"my dir/a#b.dl\":1:2") != std::string::npos);
  CHECK(printed.find("@\"C:\\\\w\\\\m.dl\":3:4") != std::string::npos);
  auto back = parseModuleText(printed, "odd.ir", err);
  REQUIRE_MESSAGE(back, err);
  CHECK(printModule(*back) == printed);
  CHECK(back->functions[0]->find("h.1")->op == OpKind::Input);
  CHECK(*back->inputs[0].loc.file == "my dir/a#b.dl");
  CHECK(*back->functions[0]->find("h")->loc.file == "C:\\w\\m.dl");

  // Comments and free spacing are accepted and dropped.
  std::string spaced = "# leading comment\n" + printed;
  spaced.insert(spaced.find("func f {") + 8, "   # the function\n\n");
  auto again = parseModuleText(spaced, "odd.ir", err);
  REQUIRE_MESSAGE(again, err);
  CHECK(printModule(*again) == printed);
}

TEST_CASE("ir dot: clusters, labels, shapes and colours") {
  auto m = irtest::makeMlpModule();
  std::string dot = toDot(*m);
  CHECK(dot.rfind("digraph \"mlp\" {", 0) == 0);
  CHECK(dot.find("subgraph \"cluster_predict\"") != std::string::npos);
  CHECK(dot.find("subgraph \"cluster_step\"") != std::string::npos);
  CHECK(dot.find("label=\"h.1 = relu\\nf32[4, 2]\"") != std::string::npos);
  CHECK(dot.find("shape=invhouse") != std::string::npos);  // inputs
  CHECK(dot.find("shape=cylinder") != std::string::npos);  // variables
  CHECK(dot.find("fillcolor=\"#f4cccc\"") != std::string::npos); // grad nodes
  // Edge %t -> %h in predict (nodes 3 and 4 of function 0).
  CHECK(dot.find("f0_n3 -> f0_n4;") != std::string::npos);
  CHECK(dot.find("label=\"output probs\"") != std::string::npos);

  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    MESSAGE("graphviz 'dot' not found; skipping the rendering check");
    return;
  }
  std::string path = "ir_dot_test_" + std::to_string(std::rand()) + ".dot";
  std::ofstream(path) << dot;
  int rc = std::system(("dot -Tsvg " + path + " -o /dev/null").c_str());
  std::remove(path.c_str());
  CHECK(rc == 0);
}
