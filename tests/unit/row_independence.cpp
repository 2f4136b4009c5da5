// The row-independence analysis (ir/RowIndependence.h): which entries may
// run on fewer rows than the batch, on the examples after the whole pipeline
// (graph and buffer IR), and on small graphs with one op each that keeps or
// mixes the rows.
#include "frontend/Frontend.h"
#include "ir/IRParser.h"
#include "ir/RowIndependence.h"
#include "passes/PassManager.h"
#include "passes/Pipeline.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <sstream>
#include <vector>

using namespace dlc;

namespace {

// Entry name -> row independent, for an example after the default pipeline.
std::map<std::string, bool> exampleEntries(const std::string &example, bool fusion = true) {
  std::ostringstream errs;
  auto m = compileModelFile(DLC_SOURCE_DIR "/examples/" + example, errs);
  REQUIRE_MESSAGE(m, errs.str());
  PassManager pm;
  PipelineOptions opts;
  opts.fusion = fusion;
  addDefaultPipeline(pm, opts);
  pm.run(*m);
  std::map<std::string, bool> entries;
  for (const auto &f : m->functions) {
    RowAnalysis r = analyzeRows(*f, 128);
    CAPTURE(f->name);
    CAPTURE(r.reason);
    CHECK(r.independent == r.reason.empty());
    entries[f->name] = r.independent;
  }
  return entries;
}

// A one-entry model over x : f32[4, 3] (batch 4) whose predict is `body`.
RowAnalysis analyze(const std::string &body, const std::string &decls = "") {
  std::string text = "model t\ninput x : f32[4, 3]\n" + decls +
                     "func predict {\n  %x = input {name = \"x\"} : f32[4, 3]\n" + body +
                     "}\n";
  std::string error;
  auto m = parseModuleText(text, "t.ir", error);
  REQUIRE_MESSAGE(m, error);
  // The analysis points at the module's nodes: it must outlive the test.
  static std::vector<std::unique_ptr<Module>> analyzed;
  analyzed.push_back(std::move(m));
  return analyzeRows(*analyzed.back()->functions.at(0), 4);
}

} // namespace

TEST_CASE("rows: every example's predict keeps its rows apart, and no train entry does") {
  using Entries = std::map<std::string, bool>;
  for (bool fusion : {true, false}) {
    CAPTURE(fusion);
    CHECK(exampleEntries("mnist_mlp.dl", fusion) == Entries{{"predict", true}, {"step", false}});
    CHECK(exampleEntries("mlp_64_64.dl", fusion) == Entries{{"predict", true}, {"step", false}});
    CHECK(exampleEntries("mlp_dropout_l2.dl", fusion) ==
          Entries{{"predict", true}, {"step", false}});
    CHECK(exampleEntries("mnist_cnn.dl", fusion) == Entries{{"predict", true}, {"step", false}});
    CHECK(exampleEntries("lstm.dl", fusion) == Entries{{"predict", true}, {"step", false}});
    CHECK(exampleEntries("autoencoder.dl", fusion) ==
          Entries{{"predict", true}, {"step", false}});
    CHECK(exampleEntries("gan.dl", fusion) ==
          Entries{{"predict", true}, {"d_step", false}, {"g_step", false}});
  }
}

TEST_CASE("rows: the values that follow the rows are the ones computed from the input") {
  RowAnalysis r = analyze("  %w = var {name = \"w\"} : f32[3, 2]\n"
                          "  %w2 = mul(%w, %w) : f32[3, 2]\n"
                          "  %y = matmul(%x, %w2) : f32[4, 2]\n"
                          "  %p = softmax(%y) : f32[4, 2]\n"
                          "  output p = %p\n",
                          "param w : f32[3, 2]\n");
  REQUIRE(r.independent);
  std::set<std::string> rowed;
  for (const Node *n : r.rowed)
    rowed.insert(n->name);
  CHECK(rowed == std::set<std::string>{"x", "y", "p"});
}

TEST_CASE("rows: ops along other axes keep rows apart") {
  CHECK(analyze("  %s = reduce_sum(%x) {axes = [1]} : f32[4]\n  output s = %s\n").independent);
  CHECK(analyze("  %t = slice(%x) {begin = [0, 1], end = [4, 3]} : f32[4, 2]\n"
                "  output t = %t\n")
            .independent);
  CHECK(analyze("  %t = transpose(%x) {perm = [0, 1]} : f32[4, 3]\n  output t = %t\n")
            .independent);
  // A convolution's rows: each row of the batch a block of leading rows.
  CHECK(analyze("  %r = reshape(%x) : f32[12, 1]\n  %e = exp(%r) : f32[12, 1]\n"
                "  %s = reshape(%e) : f32[4, 3]\n  output s = %s\n")
            .independent);
  CHECK(analyze("  %r = reshape(%x) : f32[4, 3, 1]\n  %s = log_softmax(%r) {axis = 1} : "
                "f32[4, 3, 1]\n  output s = %s\n")
            .independent);
  // A variable whose leading dim happens to be the batch, added along the
  // last axis, is the same for every row.
  CHECK(analyze("  %r = reshape(%x) : f32[4, 3]\n  %w = var {name = \"w\"} : f32[3, 4]\n"
                "  %m = matmul(%r, %w) : f32[4, 4]\n"
                "  %b = var {name = \"b\"} : f32[4]\n  %y = add(%m, %b) : f32[4, 4]\n"
                "  output y = %y\n",
                "param w : f32[3, 4]\nparam b : f32[4]\n")
            .independent);
}

TEST_CASE("rows: ops over the batch dim make rows depend on each other, and say which") {
  RowAnalysis r = analyze("  %s = reduce_sum(%x) {axes = [0]} : f32[3]\n  output s = %s\n");
  CHECK_FALSE(r.independent);
  CHECK(r.reason == "%s = reduce_sum: its result f32[3] does not lead with the batch");
  CHECK(r.rowed.empty());

  r = analyze("  %s = reduce_sum(%x) {axes = [0, 1]} : f32[]\n  output s = %s\n");
  CHECK_FALSE(r.independent);

  r = analyze("  %g = matmul(%x, %x) {transpose_a = 1} : f32[3, 3]\n  output g = %g\n");
  CHECK_FALSE(r.independent); // x^T x sums over the rows

  r = analyze("  %w = var {name = \"w\"} : f32[2, 4]\n"
              "  %m = matmul(%w, %x) : f32[2, 3]\n  output m = %m\n",
              "param w : f32[2, 4]\n");
  CHECK_FALSE(r.independent);
  CHECK(r.reason == "%m = matmul: its result f32[2, 3] does not lead with the batch");

  r = analyze("  %p = softmax(%x) {axis = 0} : f32[4, 3]\n  output p = %p\n");
  CHECK(r.reason == "%p = softmax: its rows run along the batch");

  r = analyze("  %t = transpose(%x) {perm = [1, 0]} : f32[3, 4]\n"
              "  %u = transpose(%t) {perm = [1, 0]} : f32[4, 3]\n  output u = %u\n");
  CHECK(r.reason == "%t = transpose: its result f32[3, 4] does not lead with the batch");

  r = analyze("  %r = reshape(%x) : f32[2, 6]\n  %s = reshape(%r) : f32[4, 3]\n"
              "  output s = %s\n");
  CHECK(r.reason == "%r = reshape: its result f32[2, 6] does not lead with the batch");

  r = analyze("  %t = slice(%x) {begin = [1, 0], end = [4, 3]} : f32[3, 3]\n"
              "  %p = pad(%t) {low = [1, 0], high = [0, 0]} : f32[4, 3]\n  output p = %p\n");
  CHECK_FALSE(r.independent); // row i of p is row i - 1 of x

  // A per-row sum broadcast along the last axis: shapes that fit by
  // coincidence (batch 4 = 4 columns) still mix rows.
  r = analyze("  %r = reshape(%x) : f32[4, 3]\n  %w = var {name = \"w\"} : f32[3, 4]\n"
              "  %m = matmul(%r, %w) : f32[4, 4]\n"
              "  %s = reduce_sum(%m) {axes = [1]} : f32[4]\n"
              "  %y = add(%m, %s) : f32[4, 4]\n  output y = %y\n",
              "param w : f32[3, 4]\n");
  CHECK(r.reason == "%y = add: operand %s f32[4] is broadcast across the rows");
}

TEST_CASE("rows: train entries and models without a batch are never row independent") {
  std::string error;
  auto m = parseModuleText("model t\ninput x : f32[4, 3]\nfunc predict {\n"
                           "  %x = input {name = \"x\"} : f32[4, 3]\n  output x = %x\n}\n",
                           "t.ir", error);
  REQUIRE_MESSAGE(m, error);
  CHECK(analyzeRows(*m->functions[0], 4).independent);
  CHECK(analyzeRows(*m->functions[0], 0).reason == "the model has no batch dim");
  CHECK(analyzeRows(*m->functions[0], 1).reason == "the batch is one row");
  CHECK(exampleEntries("mnist_mlp.dl").at("step") == false);
}

// Row groups (ir/BufferIR.h RowGroup) are for calls that compute rows of a
// row-independent entry: verifyRowGroups refuses one in a train entry, and
// one around a call of variables alone.
TEST_CASE("rows: a row group only in a row-independent entry, only around calls of rows") {
  std::ostringstream errs;
  auto m = compileModelFile(DLC_SOURCE_DIR "/examples/mnist_mlp.dl", errs);
  REQUIRE_MESSAGE(m, errs.str());
  PassManager pm;
  addDefaultPipeline(pm, PipelineOptions{});
  pm.run(*m);
  const int64_t batch = modelBatch(*m);
  REQUIRE(batch == 128);
  Function &predict = *m->findFunction("predict");
  Function &step = *m->findFunction("step");
  // The MLP's intermediates fit in cache: the planner groups nothing.
  CHECK(predict.plan.groups.empty());
  CHECK(verifyRowGroups(predict, batch).empty());
  predict.plan.groups.push_back({1, 2, 4, {}});
  CHECK(verifyRowGroups(predict, batch).empty());
  step.plan.groups.push_back({0, 1, 4, {}});
  std::vector<std::string> problems = verifyRowGroups(step, batch);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "func step: row groups in an entry whose rows depend on each other "
                       "(a train entry: its update reads the whole batch)");
  // A local buffer must hold rows: b1 is dense_1.w's state.
  predict.plan.groups[0].local = {1};
  problems = verifyRowGroups(predict, batch);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "func predict: b1, local to group 0, holds no rows");
}
