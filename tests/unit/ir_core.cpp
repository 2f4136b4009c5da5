// Unit tests of the IR's core: tensor types and broadcasting, the op table,
// the builder's shape errors and the naming of values.
#include "ir/Builder.h"
#include "ir/Support.h"

#include <doctest/doctest.h>

using namespace dlc;

TEST_CASE("ir: tensor types print, count and parse their element type") {
  TensorType t = TensorType::f32({128, 784});
  CHECK(t.str() == "f32[128, 784]");
  CHECK(t.numel() == 128 * 784);
  CHECK(t.bytes() == 128 * 784 * 4);
  CHECK(t.rank() == 2);
  CHECK_FALSE(t.isScalar());
  CHECK(TensorType::f32({}).str() == "f32[]");
  CHECK(TensorType::f32({}).isScalar());
  CHECK(TensorType::f32({}).numel() == 1);
  CHECK(TensorType::i32({4}).str() == "i32[4]");
  CHECK(TensorType::i32({4}) != TensorType::f32({4}));
  CHECK(parseDType("f32") == DType::F32);
  CHECK(parseDType("i32") == DType::I32);
  CHECK_FALSE(parseDType("f64").has_value());
  CHECK(dimsStr({}) == "[]");
}

TEST_CASE("ir: broadcastDims follows numpy") {
  CHECK(broadcastDims({4, 3}, {3}) == Dims{4, 3});
  CHECK(broadcastDims({3}, {4, 3}) == Dims{4, 3});
  CHECK(broadcastDims({4, 1}, {1, 5}) == Dims{4, 5});
  CHECK(broadcastDims({}, {2, 2}) == Dims{2, 2});
  CHECK(broadcastDims({}, {}) == Dims{});
  CHECK(broadcastDims({2, 1, 3}, {4, 1}) == Dims{2, 4, 3});
  CHECK_FALSE(broadcastDims({4, 3}, {4}).has_value());
  CHECK_FALSE(broadcastDims({2, 3}, {3, 3}).has_value());
}

TEST_CASE("ir: op table lookups agree with Ops.def") {
  CHECK(opByName("matmul") == OpKind::MatMul);
  CHECK(opByName("sparse_xent_grad") == OpKind::SparseXentGrad);
  CHECK(opByName("const") == OpKind::Constant);
  CHECK_FALSE(opByName("conv2d_unknown").has_value());
  CHECK_FALSE(opByName("").has_value());
  CHECK(std::string(opName(OpKind::ReluGrad)) == "relu_grad");
  CHECK(opInfo(OpKind::SparseXentGrad).operands == 3);
  CHECK(opInfo(OpKind::Input).operands == 0);
  CHECK(opInfo(OpKind::MatMul).fusion == FusionKind::Contraction);
  CHECK(opInfo(OpKind::Softmax).fusion == FusionKind::RowWise);
  CHECK(opInfo(OpKind::SparseXent).fusion == FusionKind::RowWise);
  CHECK(std::string(fusionKindName(FusionKind::RowWise)) == "row-wise");
  // The schema: matmul's transposes are optional booleans; axes required.
  const auto &mm = opInfo(OpKind::MatMul).attrs;
  REQUIRE(mm.size() == 2);
  CHECK(mm[0].name == "transpose_a");
  CHECK(mm[0].kind == AttrKind::Bool);
  CHECK(mm[0].optional);
  CHECK(mm[1].name == "transpose_b");
  const auto &rs = opInfo(OpKind::ReduceSum).attrs;
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].kind == AttrKind::Ints);
  CHECK_FALSE(rs[0].optional);
  CHECK(opInfo(OpKind::Relu).attrs.empty());
  // Flags: typed results, views, in-place operands, DSL builtins.
  CHECK(opInfo(OpKind::Reshape).typed());
  CHECK(opInfo(OpKind::Reshape).isView());
  CHECK_FALSE(opInfo(OpKind::Broadcast).isView());
  CHECK_FALSE(opInfo(OpKind::Add).typed());
  CHECK(opInfo(OpKind::Add).mayOverwrite(0));
  CHECK(opInfo(OpKind::Add).mayOverwrite(1));
  CHECK_FALSE(opInfo(OpKind::MatMul).mayOverwrite(0));
  CHECK(opInfo(OpKind::SparseXentGrad).mayOverwrite(1));
  CHECK_FALSE(opInfo(OpKind::SparseXentGrad).mayOverwrite(0));
  CHECK(opInfo(OpKind::Relu).isBuiltin());
  CHECK_FALSE(opInfo(OpKind::ReluGrad).isBuiltin());
  // Every op is found by its own name, and the table is indexed by kind.
  for (const OpInfo &i : allOps()) {
    CHECK(opByName(i.name) == i.kind);
    CHECK(&opInfo(i.kind) == &i);
  }
}

TEST_CASE("ir: attributes are checked against the op's schema in one place") {
  CHECK(attrProblem(OpKind::MatMul, "transpose_a", int64_t(1)) == "");
  CHECK(attrProblem(OpKind::MatMul, "transpose_a", int64_t(2)) ==
        "attribute 'transpose_a' must be 0 or 1");
  CHECK(attrProblem(OpKind::MatMul, "axes", int64_t(0)) ==
        "unexpected attribute 'axes' (matmul takes transpose_a, transpose_b)");
  CHECK(attrProblem(OpKind::Relu, "x", int64_t(0)) ==
        "unexpected attribute 'x' (relu takes none)");
  CHECK(attrProblem(OpKind::Constant, "value", int64_t(3)) == "");
  CHECK(attrProblem(OpKind::Constant, "value", 2.5) == "");
  CHECK(attrProblem(OpKind::Constant, "value", std::string("a")) ==
        "attribute 'value' must be a number");
  std::map<std::string, AttrValue> none;
  CHECK(attrsProblem(OpKind::ReduceSum, none) == "missing attribute 'axes'");
  CHECK(attrsProblem(OpKind::MatMul, none) == "");
  // The Builder goes through the same check: a bad attribute never makes a node.
  Function f("f");
  Builder b(f);
  Node *x = b.input("x", TensorType::f32({2, 3}));
  Attrs bad;
  bad.set("axes", std::string("0"));
  std::string error;
  CHECK(b.tryCreate(OpKind::ReduceSum, {x}, bad, "", nullptr, error) == nullptr);
  CHECK(error == "reduce_sum: attribute 'axes' must be a list of integers");
  CHECK(b.tryCreate(OpKind::ReduceSum, {x}, {}, "", nullptr, error) == nullptr);
  CHECK(error == "reduce_sum: missing attribute 'axes'");
}

TEST_CASE("ir: the builder types nodes by the shape rules") {
  Function f("predict");
  Builder b(f);
  Node *x = b.input("x", TensorType::f32({4, 3}));
  Node *w = b.var("w", TensorType::f32({3, 2}));
  Node *bias = b.var("b", TensorType::f32({2}));
  Node *t = b.matmul(x, w);
  CHECK(t->type == TensorType::f32({4, 2}));
  CHECK(b.add(t, bias)->type == TensorType::f32({4, 2}));
  CHECK(b.matmul(x, t, /*transA=*/true)->type == TensorType::f32({3, 2}));
  CHECK(b.reduceMean(t, {0, 1})->type == TensorType::f32({}));
  CHECK(b.reduceSum(t, {0})->type == TensorType::f32({2}));
  CHECK(b.sumToShape(t, {1, 2})->type == TensorType::f32({1, 2}));
  CHECK(b.reshape(x, {12})->type == TensorType::f32({12}));
}

TEST_CASE("ir: builder shape errors name both shapes") {
  Function f("predict");
  Builder b(f);
  Node *x = b.input("x", TensorType::f32({128, 784}));
  Node *w = b.var("w", TensorType::f32({100, 10}));
  Node *v = b.var("v", TensorType::f32({5}));
  std::string err;
  CHECK(b.tryCreate(OpKind::MatMul, {x, w}, {}, "t", nullptr, err) == nullptr);
  CHECK(err.find("f32[128, 784]") != std::string::npos);
  CHECK(err.find("f32[100, 10]") != std::string::npos);

  err.clear();
  CHECK(b.tryCreate(OpKind::Add, {x, v}, {}, "s", nullptr, err) == nullptr);
  CHECK(err.find("f32[128, 784]") != std::string::npos);
  CHECK(err.find("f32[5]") != std::string::npos);

  err.clear();
  TensorType bad = TensorType::f32({7});
  CHECK(b.tryCreate(OpKind::Reshape, {x}, {}, "r", &bad, err) == nullptr);
  CHECK(err.find("f32[128, 784]") != std::string::npos);
  CHECK(err.find("f32[7]") != std::string::npos);

  err.clear();
  CHECK(b.tryCreate(OpKind::Relu, {x, x}, {}, "r", nullptr, err) == nullptr);
  CHECK(err.find("expected 1 operands, got 2") != std::string::npos);

  // Nothing was appended by the failed requests.
  CHECK(f.nodes.size() == 3);
  // The unchecked path treats the same request as a compiler bug.
  CHECK_THROWS_AS(b.matmul(x, w), InternalError);
}

TEST_CASE("ir: a result past the size limit is a shape error, not an overflow") {
  Function f("predict");
  Builder b(f);
  int64_t big = kMaxTensorElements;
  Node *col = b.input("col", TensorType::f32({big, 1}));
  Node *row = b.input("row", TensorType::f32({1, big}));
  std::string err;
  // [2^40, 1] + [1, 2^40] has 2^80 elements: numel() would wrap around.
  CHECK(b.tryCreate(OpKind::Add, {col, row}, {}, "s", nullptr, err) == nullptr);
  CHECK(err == "add: result f32[1099511627776, 1099511627776] is too large "
               "(more than 2^40 elements)");
  err.clear();
  CHECK(b.tryCreate(OpKind::MatMul, {col, row}, {}, "m", nullptr, err) == nullptr);
  CHECK(err.find("matmul: result f32[1099511627776, 1099511627776] is too large") == 0);
  err.clear();
  TensorType empty = TensorType::f32({0, 3});
  Attrs one;
  one.set("value", 1.0);
  CHECK(b.tryCreate(OpKind::Constant, {}, one, "c", &empty, err) == nullptr);
  CHECK(err == "const: result f32[0, 3] has a dimension below 1");
  CHECK(withinSizeLimits({big}));
  CHECK(withinSizeLimits({}));
  CHECK_FALSE(withinSizeLimits({big, 2}));
  CHECK_FALSE(withinSizeLimits({3, -1}));
}

TEST_CASE("ir: softmax_grad says what is wrong with its operands") {
  Function f("predict");
  Builder b(f);
  Node *s = b.input("s", TensorType::f32({}));
  Node *v = b.input("v", TensorType::f32({3}));
  std::string err;
  CHECK(b.tryCreate(OpKind::SoftmaxGrad, {s, s}, {}, "g", nullptr, err) == nullptr);
  CHECK(err == "softmax_grad: expected at least one axis, got f32[]");
  CHECK(b.tryCreate(OpKind::SoftmaxGrad, {v, s}, {}, "g", nullptr, err) == nullptr);
  CHECK(err == "softmax_grad: operand types differ: f32[3] and f32[]");
}

TEST_CASE("ir: value names are unique and parsed names survive") {
  Function f("f");
  CHECK(f.uniqueName("h") == "h");
  CHECK(f.uniqueName("h") == "h.1");
  CHECK(f.uniqueName("h") == "h.2");
  CHECK(f.uniqueName("") == "t");

  // A parsed function may define h.1 before h: both keep their names, and a
  // later repeat of h skips the taken h.1.
  Function g("g");
  CHECK(g.uniqueName("h.1") == "h.1");
  CHECK(g.uniqueName("h") == "h");
  CHECK(g.uniqueName("h") == "h.2");
  CHECK(g.uniqueName("h.1") == "h.1.1");
}
