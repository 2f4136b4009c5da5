// The layers and language features the tutorial models are written with:
// conv2d (valid, same, strided) and pooling against direct loops in doubles,
// indexing and slicing, for loops with shared instances (the unrolled LSTM),
// lists, dotted param names, params = [...] per train entry, dropout in train
// and predict. Each model's train step also runs compiled against the
// interpreter.
#include "frontend/Frontend.h"
#include "tests/unit/dsl_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <sstream>

using namespace dlc;
using namespace dlc::testing;

namespace {

const Function &entry(const Module &m, const std::string &name) {
  for (auto &f : m.functions)
    if (f->name == name)
      return *f;
  FAIL("no entry " << name);
  throw 0;
}

Tensor uniformTensor(const TensorType &t, std::mt19937 &rng, double lo = -1, double hi = 1) {
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor r = Tensor::zeros(t);
  for (double &v : r.data)
    v = t.dtype == DType::F32 ? (double)(float)u(rng) : std::floor(u(rng));
  return r;
}

// The errors of compiling `src`, or "" when it compiles.
std::string errorsOf(const std::string &src) {
  std::ostringstream errs;
  auto m = compileModelSource("t.dl", src, errs);
  return m ? "" : errs.str();
}

// A convolution by its definition: NHWC input, [kh, kw, c, f] filters,
// Keras's "same" padding (the odd element after).
std::vector<double> directConv(const Tensor &x, const Tensor &w, const Tensor &b, int64_t stride,
                               bool same, Dims &outDims) {
  const Dims &xd = x.type.dims, &wd = w.type.dims;
  int64_t n = xd[0], h = xd[1], wi = xd[2], c = xd[3], kh = wd[0], kw = wd[1], f = wd[3];
  int64_t oh = same ? (h + stride - 1) / stride : (h - kh) / stride + 1;
  int64_t ow = same ? (wi + stride - 1) / stride : (wi - kw) / stride + 1;
  int64_t padT = same ? std::max<int64_t>((oh - 1) * stride + kh - h, 0) / 2 : 0;
  int64_t padL = same ? std::max<int64_t>((ow - 1) * stride + kw - wi, 0) / 2 : 0;
  outDims = {n, oh, ow, f};
  std::vector<double> y;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t o = 0; o < f; ++o) {
          double acc = b.data[(size_t)o];
          for (int64_t p = 0; p < kh; ++p)
            for (int64_t q = 0; q < kw; ++q) {
              int64_t r = i * stride + p - padT, s = j * stride + q - padL;
              if (r < 0 || r >= h || s < 0 || s >= wi)
                continue;
              for (int64_t ch = 0; ch < c; ++ch)
                acc += x.data[(size_t)(((in * h + r) * wi + s) * c + ch)] *
                       w.data[(size_t)(((p * kw + q) * c + ch) * f + o)];
            }
          y.push_back(acc);
        }
  return y;
}

} // namespace

TEST_CASE("conv2d equals a direct convolution: valid, same, strided") {
  struct Case {
    std::string args;
    int64_t stride;
    bool same;
  };
  for (const Case &c : std::vector<Case>{{"3", 1, false},
                                         {"[3, 2], padding = \"same\"", 1, true},
                                         {"3, stride = 2", 2, false},
                                         {"3, stride = 2, padding = \"same\"", 2, true}}) {
    INFO(c.args);
    auto m = compileDsl("model t {\n  input x : f32[2, 7, 6, 3]\n"
                        "  output y = conv2d(x, 4, " + c.args + ")\n}\n", true);
    std::mt19937 rng(5);
    TensorMap inputs{{"x", uniformTensor(TensorType::f32({2, 7, 6, 3}), rng)}};
    TensorMap vars = initVarsForTest(*m, 1);
    vars["conv2d_1.b"] = uniformTensor(vars["conv2d_1.b"].type, rng);
    Dims dims;
    std::vector<double> want = directConv(inputs["x"], vars["conv2d_1.w"], vars["conv2d_1.b"],
                                          c.stride, c.same, dims);
    Tensor got = interpret(entry(*m, "predict"), inputs, vars).outputs.at("y");
    CHECK(got.type.dims == dims);
    checkClose(got.data, want, 1e-12);
    checkClose(jitRun(*m, 0, inputs, vars).at("y").data, want, 1e-5);
  }
}

TEST_CASE("max_pool2d and avg_pool2d take non-overlapping windows and drop the remainder") {
  auto m = compileDsl("model t {\n  input x : f32[2, 5, 4, 3]\n"
                      "  output mx = max_pool2d(x, 2)\n  output av = avg_pool2d(x, [1, 2])\n}\n",
                      true);
  std::mt19937 rng(6);
  TensorMap inputs{{"x", uniformTensor(TensorType::f32({2, 5, 4, 3}), rng)}};
  const std::vector<double> &x = inputs["x"].data;
  auto at = [&](int64_t n, int64_t i, int64_t j, int64_t c) {
    return x[(size_t)(((n * 5 + i) * 4 + j) * 3 + c)];
  };
  std::vector<double> mx, av;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 2; ++i) // 5 rows: two windows of 2, the last row dropped
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t c = 0; c < 3; ++c)
          mx.push_back(std::max(std::max(at(n, 2 * i, 2 * j, c), at(n, 2 * i, 2 * j + 1, c)),
                                std::max(at(n, 2 * i + 1, 2 * j, c), at(n, 2 * i + 1, 2 * j + 1, c))));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t c = 0; c < 3; ++c)
          av.push_back((at(n, i, 2 * j, c) + at(n, i, 2 * j + 1, c)) / 2);
  InterpResult r = interpret(entry(*m, "predict"), inputs, {});
  CHECK(r.outputs.at("mx").type == TensorType::f32({2, 2, 2, 3}));
  checkClose(r.outputs.at("mx").data, mx, 0);
  CHECK(r.outputs.at("av").type == TensorType::f32({2, 5, 2, 3}));
  checkClose(r.outputs.at("av").data, av, 1e-15);
  TensorMap noVars;
  TensorMap got = jitRun(*m, 0, inputs, noVars);
  checkClose(got.at("mx").data, mx, 0);
  checkClose(got.at("av").data, av, 1e-6);
}

TEST_CASE("indexing: integers drop an axis, ranges keep it, negatives count from the end") {
  auto m = compileDsl("model t {\n  input x : f32[3, 4, 5]\n"
                      "  output a = x[1]\n  output b = x[:, -1, 1:3]\n"
                      "  output c = x[-2:, :2]\n  output d = [x, x * 2][1][0, 0, 4]\n}\n",
                      true);
  std::mt19937 rng(7);
  TensorMap inputs{{"x", uniformTensor(TensorType::f32({3, 4, 5}), rng)}};
  auto x = [&](int64_t i, int64_t j, int64_t k) { return inputs["x"].data[(size_t)((i * 4 + j) * 5 + k)]; };
  std::vector<double> a, b, c;
  for (int64_t j = 0; j < 4; ++j)
    for (int64_t k = 0; k < 5; ++k)
      a.push_back(x(1, j, k));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t k = 1; k < 3; ++k)
      b.push_back(x(i, 3, k));
  for (int64_t i = 1; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t k = 0; k < 5; ++k)
        c.push_back(x(i, j, k));
  InterpResult r = interpret(entry(*m, "predict"), inputs, {});
  CHECK(r.outputs.at("a").type == TensorType::f32({4, 5}));
  CHECK(r.outputs.at("b").type == TensorType::f32({3, 2}));
  CHECK(r.outputs.at("c").type == TensorType::f32({2, 2, 5}));
  CHECK(r.outputs.at("d").type == TensorType::f32({}));
  checkClose(r.outputs.at("a").data, a, 0);
  checkClose(r.outputs.at("b").data, b, 0);
  checkClose(r.outputs.at("c").data, c, 0);
  checkClose(r.outputs.at("d").data, {2 * x(0, 0, 4)}, 0);
  TensorMap noVars;
  TensorMap got = jitRun(*m, 0, inputs, noVars);
  for (const char *name : {"a", "b", "c", "d"})
    checkClose(got.at(name).data, r.outputs.at(name).data, 0);
}

TEST_CASE("the CNN of the tutorial trains compiled as interpreted, dropout included") {
  auto m = compileDsl(R"(model cnn(batch = 4) {
  input x : f32[batch, 12, 12, 1]
  input y : i32[batch]
  h = conv2d(x, 3, 3, activation = relu)
  h = max_pool2d(h)
  h = conv2d(h, 4, [2, 2], padding = "same", activation = relu)
  h = avg_pool2d(h, 2)
  logits = dense(dropout(flatten(h), 0.5), 10)
  output probs = softmax(logits)
  train step(cross_entropy(logits, y), adam(lr = 0.01))
})", true);
  // predict has no dropout and does not advance its counter; the step does.
  for (auto &n : entry(*m, "predict").nodes)
    CHECK(n->op != OpKind::Dropout);
  CHECK(entry(*m, "predict").updates.empty());
  const Function &step = entry(*m, "step");
  REQUIRE(step.updates.size() == 1);
  CHECK(step.updates[0].first == "dropout.step");
  std::mt19937 rng(8);
  TensorMap inputs{{"x", uniformTensor(TensorType::f32({4, 12, 12, 1}), rng, 0, 1)},
                   {"y", uniformTensor(TensorType::i32({4}), rng, 0, 10)}};
  checkTrainStepCompiled(*m, inputs);
}

TEST_CASE("an unrolled LSTM shares one cell's params across its steps") {
  auto m = compileDsl(R"(model lstm(batch = 3, units = 5) {
  input x : f32[batch, 6, 4]
  input y : i32[batch]
  s = [zeros([batch, units]), zeros([batch, units])]
  for t in range(6) {
    s = lstm_cell(x[:, t, :], s, units, name = "lstm")
  }
  h = zeros([batch, 2])
  for t in range(0, 6, 2) {
    h = gru_cell(x[:, t, :], h, 2, name = "gru") + rnn_cell(x[:, t, :], h, 2, name = "rnn")
  }
  logits = dense(concat([s[0], h], -1), 4)
  output probs = softmax(logits)
  loss = cross_entropy(logits, y) + 1e-3 * sum(dense_1.w ** 2) + 1e-3 * sum(lstm.wh ** 2)
  train step(loss, adam(lr = 0.01))
})", true);
  std::vector<std::string> names;
  for (const VarDecl &v : m->vars)
    if (v.trainable)
      names.push_back(v.name);
  CHECK(names == std::vector<std::string>{"lstm.wx", "lstm.wh", "lstm.b", "gru.wx", "gru.wh",
                                          "gru.bx", "gru.bh", "rnn.wx", "rnn.wh", "rnn.b",
                                          "dense_1.w", "dense_1.b"});
  std::mt19937 rng(9);
  TensorMap inputs{{"x", uniformTensor(TensorType::f32({3, 6, 4}), rng)},
                   {"y", uniformTensor(TensorType::i32({3}), rng, 0, 4)}};
  checkTrainStepCompiled(*m, inputs);
}

TEST_CASE("params = [...] limits a train entry to the instances it names") {
  auto m = compileDsl(R"(fn disc(x) {
  return dense(dense(x, 8, relu), 1)
}
model gan(batch = 4) {
  input real : f32[batch, 6]
  input noise : f32[batch, 3]
  fake = dense(noise, 6, name = "G")
  d_real = disc(real, name = "D")
  d_fake = disc(fake, name = "D")
  ones = ones([batch, 1])
  zeros = zeros([batch, 1])
  loss_d = binary_cross_entropy(d_real, ones, from_logits = true) + binary_cross_entropy(d_fake, zeros, from_logits = true)
  loss_g = binary_cross_entropy(d_fake, ones, from_logits = true)
  output sample = sigmoid(fake)
  output score = d_real
  train d_step(loss_d, adam(lr = 2e-4, beta1 = 0.5), params = [D])
  train g_step(loss_g, adam(lr = 2e-4, beta1 = 0.5), params = [G.w, G.b])
})", true);
  CHECK(entry(*m, "d_step").train->params ==
        std::vector<std::string>{"D.dense_1.w", "D.dense_1.b", "D.dense_2.w", "D.dense_2.b"});
  CHECK(entry(*m, "g_step").train->params == std::vector<std::string>{"G.w", "G.b"});
  CHECK(entry(*m, "predict").outputs.size() == 2);
}

TEST_CASE("language errors name the mistake and where it is") {
  struct Case {
    std::string body, want;
  };
  const std::string head = "model t {\n  input x : f32[4, 6, 5]\n";
  for (const Case &c : std::vector<Case>{
           {"  output y = x[:, 6]\n", "t.dl:3:19: error: axis 1: index 6 is out of range for a size of 6 (valid: -6 to 5)"},
           {"  output y = x[1, 2, 3, 0]\n", "4 indices for f32[4, 6, 5], which has 3 axes"},
           {"  output y = x[:, 3:3]\n", "axis 1: the range 3:3 is empty"},
           {"  output y = [x][1]\n", "list index 1 is out of range for a size of 1 (valid: -1 to 0)"},
           {"  for t in range(0, 5, 0) {\n    x = x\n  }\n  output y = x\n", "range: step must not be zero"},
           {"  h = x\n  for t in range(20000) {\n    h = h + 1\n  }\n  output y = h\n",
            "this loop runs 20000 times; a for loop is unrolled at compile time, at most 10000 times"},
           {"  output y = x // 2\n", "operator '//' divides compile-time numbers"},
           {"  output y = conv2d(reshape(x, [4, 6, 5, 1]), 2, 3, padding = \"full\")\n",
            "patches: padding must be \"valid\" or \"same\", got string \"full\""},
           {"  output y = conv2d(x, 2, 3)\n", "expected an image f32[batch, height, width, channels] (NHWC), got f32[4, 6, 5]"},
           {"  a = dense(x[:, 0], 3, name = \"D\")\n  output y = dense(a, 4, name = \"D\")\n",
            "param 'D.w' is shared, but this call makes it f32[3, 4] where the first made it f32[5, 3]"},
           {"  a = dense(x, 3, name = 5)\n  output y = a\n", "the instance name must be a string"},
           {"  a = dense(x[:, 0], 3)\n  train s(sum(a), sgd(lr = 0.1), params = [x])\n",
            "params: expected an instance or a param, got tensor f32[4, 6, 5]"},
           {"  a = dense(x[:, 0], 3)\n  b = dense(x[:, 0], 3)\n  train s(sum(a), sgd(lr = 0.1), params = [dense_2])\n",
            "params: instance 'dense_2' has no param that the loss depends on"},
           {"  output y = dropout(x, 1)\n", "dropout: rate must be a number in [0, 1), got integer 1"},
           {"  output y = concat([x, x[:, :, 0]], 1)\n", "concat: operand 1 f32[4, 6] does not match"},
       }) {
    INFO(c.body);
    std::string errs = errorsOf(head + c.body + "}\n");
    CHECK_MESSAGE(errs.find(c.want) != std::string::npos, errs);
  }
  CHECK(errorsOf("model t {\n  input x : f32[2]\n  output y = dense(x, \"3)\n}\n")
            .find("missing '\"' at the end of this string") != std::string::npos);
}

TEST_CASE("embedding looks rows up by id, and an id outside the table gives NaN") {
  auto m = compileDsl(R"(model words(batch = 3) {
  input ids : i32[batch, 4]
  input y : i32[batch]
  e = embedding(ids, 7, 5)
  logits = dense(mean(e, 1), 2)
  output rows = e
  output probs = softmax(logits)
  train step(cross_entropy(logits, y), sgd(lr = 0.5))
})", true);
  std::mt19937 rng(10);
  TensorMap inputs{{"ids", uniformTensor(TensorType::i32({3, 4}), rng, 0, 7)},
                   {"y", uniformTensor(TensorType::i32({3}), rng, 0, 2)}};
  TensorMap vars = initVarsForTest(*m, 2);
  Tensor rows = interpret(entry(*m, "predict"), inputs, vars).outputs.at("rows");
  CHECK(rows.type == TensorType::f32({3, 4, 5}));
  for (int i = 0; i < 12; ++i)
    for (int k = 0; k < 5; ++k)
      CHECK(rows.data[(size_t)(i * 5 + k)] ==
            vars["embedding_1.table"].data[(size_t)(inputs["ids"].data[(size_t)i] * 5 + k)]);
  checkTrainStepCompiled(*m, inputs);
  inputs["ids"].data[5] = 7; // one past the table
  TensorMap got = jitRun(*m, 0, inputs, vars);
  for (int k = 0; k < 5; ++k) {
    CHECK(std::isnan(got.at("rows").data[(size_t)(5 * 5 + k)]));
    CHECK(got.at("rows").data[(size_t)(4 * 5 + k)] == rows.data[(size_t)(4 * 5 + k)]);
  }
}
