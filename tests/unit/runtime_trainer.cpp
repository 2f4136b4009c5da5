// The host training driver on the toy model: it learns a separable dataset,
// is deterministic for a seed, evaluates partial batches and reports errors.
#include "runtime/host/Trainer.h"
#include "tests/unit/runtime_test_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace toy;

namespace {

// Two Gaussian-ish blobs, class 0 around (-1, -1) and class 1 around (1, 1),
// from a fixed LCG so the data is the same everywhere.
dlc::Dataset blobs(int64_t count, uint32_t seed) {
  dlc::Dataset d;
  d.imageDims = {kFeatures};
  d.count = count;
  uint32_t state = seed;
  auto noise = [&state] {
    state = state * 1664525u + 1013904223u;
    return float(state >> 8) / 16777216.0f - 0.5f; // [-0.5, 0.5)
  };
  for (int64_t i = 0; i < count; ++i) {
    const int32_t label = int32_t(i % 2);
    const float centre = label ? 1.0f : -1.0f;
    d.images.push_back(centre + noise());
    d.images.push_back(centre + noise());
    d.labels.push_back(label);
  }
  return d;
}

std::vector<double> epochLosses(const std::string &output) {
  std::vector<double> losses;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(line.find_last_of('\r') + 1); // what a terminal shows last
    int epoch = 0, epochs = 0;
    double loss = 0;
    if (std::sscanf(line.c_str(), "epoch %d/%d  loss %lf", &epoch, &epochs, &loss) == 3)
      losses.push_back(loss);
  }
  return losses;
}

// The feeds dlc train would plan for the toy model on `data`.
dlc::TrainOptions toyOptions(const dlc_model_desc &desc, const dlc::Dataset &data) {
  dlc::TrainOptions o;
  o.progress = false;
  o.classes = 2;
  std::string error;
  REQUIRE_MESSAGE(dlc::planFeeds(dlc::inputShapes(&desc), desc.batch, data.exampleSize(), 2, {},
                                 o.feeds, error),
                  error);
  return o;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("trainer: the toy model learns a separable dataset") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 3);
  REQUIRE(ctx);
  const dlc::Dataset train = blobs(203, 1), test = blobs(61, 2); // neither a whole batch count

  dlc::EvalResult before;
  std::string error;
  dlc::TrainOptions opts = toyOptions(m.desc, train);
  CHECK(opts.feeds == std::map<std::string, dlc::Feed>{{"x", dlc::Feed::Images},
                                                       {"y", dlc::Feed::Labels}});
  REQUIRE_MESSAGE(dlc::evaluateModel(ctx, test, opts, before, error), error);

  opts.epochs = 4;
  opts.seed = 11;
  std::ostringstream out;
  REQUIRE_MESSAGE(dlc::trainModel(ctx, train, opts, out, error), error);
  const std::vector<double> losses = epochLosses(out.str());
  REQUIRE(losses.size() == 4);
  CHECK(losses.back() < losses.front());
  CHECK(losses.back() < 0.2);
  CHECK(contains(out.str(), "samples/s"));
  CHECK_FALSE(contains(out.str(), "\r"));
  // 203 examples, batch 8: 25 full batches per epoch, the rest dropped.
  CHECK(*static_cast<int32_t *>(dlc_var_data(ctx, 2)) == 4 * 25);

  dlc::EvalResult after;
  REQUIRE_MESSAGE(dlc::evaluateModel(ctx, test, opts, after, error), error);
  CHECK(after.count == 61);
  CHECK(after.metric == "accuracy");
  CHECK(after.value > 0.95);
  dlc_destroy(ctx);
}

TEST_CASE("trainer: results are deterministic for a seed") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  const dlc::Dataset train = blobs(64, 1);
  auto trainedState = [&](uint64_t shuffleSeed) {
    dlc_context *ctx = dlc_create(&m.desc, 3);
    dlc::TrainOptions opts = toyOptions(m.desc, train);
    opts.epochs = 2;
    opts.seed = shuffleSeed;
    std::ostringstream out;
    std::string error;
    REQUIRE(dlc::trainModel(ctx, train, opts, out, error));
    std::vector<uint8_t> state = snapshot(ctx);
    dlc_destroy(ctx);
    return state;
  };
  CHECK(trainedState(7) == trainedState(7));
  CHECK(trainedState(7) != trainedState(8)); // the shuffle depends on the seed
}

TEST_CASE("trainer: the progress line is redrawn in place") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 3);
  REQUIRE(ctx);
  dlc::TrainOptions opts = toyOptions(m.desc, blobs(64, 1));
  opts.epochs = 2;
  opts.progress = true;
  std::ostringstream out;
  std::string error;
  REQUIRE(dlc::trainModel(ctx, blobs(64, 1), opts, out, error));
  const std::string text = out.str();
  CHECK(contains(text, "\repoch 1/2 ["));
  CHECK(contains(text, "8/8"));
  CHECK(contains(text, "ETA"));
  CHECK(epochLosses(text).size() >= 2);
  CHECK(contains(text, "epoch 2/2  loss "));
  dlc_destroy(ctx);
}

TEST_CASE("trainer: mismatched data and a diverging loss stop with a message") {
  ModelBuilder m("toy", kBatch);
  buildToy(m);
  dlc_context *ctx = dlc_create(&m.desc, 3);
  REQUIRE(ctx);
  dlc::TrainOptions opts = toyOptions(m.desc, blobs(16, 1));
  std::ostringstream out;
  std::string error;

  dlc::Dataset wide = blobs(16, 1);
  wide.imageDims = {3};
  wide.images.resize(16 * 3);
  CHECK_FALSE(dlc::trainModel(ctx, wide, opts, out, error));
  CHECK_MESSAGE(contains(error, "takes 2 values per example, the dataset has 3"), error);

  CHECK_FALSE(dlc::trainModel(ctx, blobs(5, 1), opts, out, error));
  CHECK_MESSAGE(contains(error, "fewer than one batch of 8"), error);

  dlc::Dataset badLabel = blobs(16, 1);
  badLabel.labels[3] = 2;
  CHECK_FALSE(dlc::trainModel(ctx, badLabel, opts, out, error));
  CHECK_MESSAGE(contains(error, "label 2 of example 3"), error);

  dlc::Dataset poisoned = blobs(16, 1);
  for (float &v : poisoned.images)
    v = std::numeric_limits<float>::quiet_NaN();
  CHECK_FALSE(dlc::trainModel(ctx, poisoned, opts, out, error));
  CHECK_MESSAGE(contains(error, "loss of 'step' is NaN"), error);

  opts.steps = {"g_step"};
  CHECK_FALSE(dlc::trainModel(ctx, blobs(16, 1), opts, out, error));
  CHECK_MESSAGE(contains(error, "no train entry 'g_step'"), error);

  dlc::EvalResult result;
  CHECK_FALSE(dlc::evaluateModel(ctx, blobs(0, 1), opts, result, error));
  CHECK_MESSAGE(contains(error, "empty"), error);
  dlc_destroy(ctx);
}

namespace {

// The step (1-based, within the epoch) that an error message names.
int64_t stepNamed(const std::string &error) {
  const size_t at = error.find(" at step ");
  REQUIRE_MESSAGE(at != std::string::npos, error);
  return std::stoll(error.substr(at + 9));
}

bool variablesFinite(dlc_context *ctx) {
  for (int v : {0, 1, 3})
    for (int64_t i = 0; i < dlc_model(ctx)->vars[v].numel; ++i)
      if (!std::isfinite(static_cast<const float *>(dlc_var_data(ctx, v))[i]))
        return false;
  return true;
}

constexpr float kSneakyPixel = 12345.0f;

// The toy step, except that a batch holding kSneakyPixel sets a weight to NaN
// while reporting a finite loss, as a relu can hide a NaN from the loss.
void sneakyStep(char *state, char *arena, const void *const *in, void *const *out,
                const dlc_exec *exec) {
  toy::stepEntry(state, arena, in, out, exec);
  const float *x = static_cast<const float *>(in[1]);
  for (int64_t i = 0; i < kBatch * kFeatures; ++i)
    if (x[i] == kSneakyPixel) {
      reinterpret_cast<float *>(state + kW)[1] = std::numeric_limits<float>::quiet_NaN();
      *static_cast<float *>(out[0]) = 0.5f;
    }
}

} // namespace

TEST_CASE("trainer: a step that turns the loss NaN leaves the variables from before it") {
  // 250 steps an epoch, so the bad one lies past the first snapshots.
  const dlc::Dataset clean = blobs(2000, 1);
  dlc::Dataset poisoned = clean;
  poisoned.images[2 * 1500] = std::numeric_limits<float>::quiet_NaN();
  for (int epochs : {1, 2}) {
    ModelBuilder m("toy", kBatch);
    buildToy(m);
    dlc_context *ctx = dlc_create(&m.desc, 3);
    REQUIRE(ctx);
    dlc::TrainOptions opts = toyOptions(m.desc, clean);
    opts.seed = 5;
    std::ostringstream out;
    std::string error;
    // With two epochs, a clean one comes first.
    if (epochs == 2)
      REQUIRE_MESSAGE(dlc::trainModel(ctx, clean, opts, out, error), error);
    CHECK_FALSE(dlc::trainModel(ctx, poisoned, opts, out, error));
    INFO(error);
    CHECK(contains(error, "the loss of 'step' is NaN at step "));
    CHECK(contains(error, "the variables are those from before that step"));
    const int64_t bad = stepNamed(error);
    const int32_t count = *static_cast<int32_t *>(dlc_var_data(ctx, 2));
    CHECK(count == (epochs - 1) * 250 + bad - 1); // every step before the bad one, no more
    CHECK(variablesFinite(ctx));
    dlc_destroy(ctx);
  }
}

TEST_CASE("trainer: a NaN that the loss hides is traced back to its step") {
  ModelBuilder m("toy", kBatch);
  m.addInput("x", DLC_F32, {kBatch, kFeatures});
  m.addInput("y", DLC_I32, {kBatch}, kClasses);
  m.addVar("dense.w", DLC_F32, {kFeatures, kClasses}, DLC_INIT_NORMAL, 0.0f, 0.5f);
  m.addVar("dense.b", DLC_F32, {kClasses}, DLC_INIT_ZEROS);
  m.addVar("step.count", DLC_I32, {1}, DLC_INIT_ZEROS, 0, 0, false);
  m.addVar("step.last_grad", DLC_F32, {kFeatures, kClasses}, DLC_INIT_ZEROS, 0, 0, false);
  m.addEntry("predict", false, {0}, {m.tensor("probs", DLC_F32, {kBatch, kClasses})}, 64,
             toy::predictEntry);
  m.addEntry("step", true, {1, 0}, {m.tensor("loss", DLC_F32, {})}, 64, sneakyStep);
  m.finish(0x70E5u);
  dlc::Dataset data = blobs(2000, 1);
  data.images[2 * 777 + 1] = kSneakyPixel;
  dlc::TrainOptions opts = toyOptions(m.desc, data);
  std::ostringstream out;
  std::string error;

  dlc_context *ctx = dlc_create(&m.desc, 3);
  REQUIRE(ctx);
  CHECK_FALSE(dlc::trainModel(ctx, data, opts, out, error));
  INFO(error);
  CHECK(contains(error, "'step' made variable 'dense.w' NaN or infinite at step "));
  CHECK(contains(error, ", with a finite loss; training stopped"));
  CHECK(*static_cast<int32_t *>(dlc_var_data(ctx, 2)) == stepNamed(error) - 1);
  CHECK(variablesFinite(ctx));
  dlc_destroy(ctx);

  // Told to go on, the trainer warns once and trains every step.
  ctx = dlc_create(&m.desc, 3);
  REQUIRE(ctx);
  opts.stopOnNonFinite = false;
  out.str("");
  CHECK(dlc::trainModel(ctx, data, opts, out, error));
  CHECK(contains(out.str(), "warning: the loss of 'step' is NaN from step "));
  CHECK(*static_cast<int32_t *>(dlc_var_data(ctx, 2)) == 250);
  dlc_destroy(ctx);
}

namespace {

// "loss 0.1234  accuracy 87.50%" of each line "epoch N/M  ...", in order
// (what a terminal shows last of each redrawn line).
std::vector<std::string> epochFigures(const std::string &output) {
  std::vector<std::string> figures;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(line.find_last_of('\r') + 1);
    const size_t from = line.find("  loss "), to = line.find('%');
    if (line.rfind("epoch ", 0) == 0 && from != std::string::npos && to != std::string::npos)
      figures.push_back(line.substr(from + 2, to + 1 - from - 2));
  }
  return figures;
}

} // namespace

TEST_CASE("trainer: the training accuracy is counted from the scores the step outputs") {
  const dlc::Dataset train = blobs(64, 1); // 8 whole batches: every example counts
  // Scores that are right on every example: 100% only if each row is paired
  // with the label of the example the shuffled batch put there.
  {
    ModelBuilder m("toy", kBatch);
    buildToyWithScores(m, signScoresEntry);
    dlc_context *ctx = dlc_create(&m.desc, 3);
    REQUIRE(ctx);
    dlc::TrainOptions opts = toyOptions(m.desc, train);
    opts.epochs = 2;
    opts.seed = 9;
    std::ostringstream out;
    std::string error;
    REQUIRE_MESSAGE(dlc::trainModel(ctx, train, opts, out, error), error);
    CHECK(epochFigures(out.str()) ==
          std::vector<std::string>{"loss 0.0000  accuracy 100.00%", "loss 0.0000  accuracy 100.00%"});
    dlc_destroy(ctx);
  }
  // A model that learns: its accuracy rises to that of a separable set; the
  // progress line shows it, beside samples/s and the ETA.
  {
    ModelBuilder m("toy", kBatch);
    buildToyWithScores(m, stepWithScoresEntry);
    dlc_context *ctx = dlc_create(&m.desc, 3);
    REQUIRE(ctx);
    dlc::TrainOptions opts = toyOptions(m.desc, train);
    opts.epochs = 3;
    opts.progress = true;
    std::ostringstream out;
    std::string error;
    REQUIRE_MESSAGE(dlc::trainModel(ctx, train, opts, out, error), error);
    const std::string text = out.str();
    CHECK(contains(text, "\repoch 1/3 [========================] 8/8  loss "));
    CHECK(contains(text, "%  "));
    CHECK(contains(text, " samples/s  ETA "));
    const std::vector<std::string> figures = epochFigures(text);
    REQUIRE(figures.size() >= 3);
    CHECK_MESSAGE(contains(figures.back(), "accuracy 100.00%"), text);
    dlc_destroy(ctx);
  }
  // The toy model of the other tests outputs no scores: no accuracy.
  {
    ModelBuilder m("toy", kBatch);
    buildToy(m);
    dlc_context *ctx = dlc_create(&m.desc, 3);
    dlc::TrainOptions opts = toyOptions(m.desc, train);
    std::ostringstream out;
    std::string error;
    REQUIRE_MESSAGE(dlc::trainModel(ctx, train, opts, out, error), error);
    CHECK_FALSE(contains(out.str(), "accuracy"));
    dlc_destroy(ctx);
  }
}

TEST_CASE("trainer: a resumed epoch reports the accuracy of all its steps, before and after") {
  toy::TempDir tmp;
  const dlc::Dataset clean = blobs(64, 1);
  dlc::Dataset poisoned = clean;
  poisoned.images[2 * 37] = std::numeric_limits<float>::quiet_NaN();
  ModelBuilder m("toy", kBatch);
  buildToyWithScores(m, stepWithScoresEntry);
  auto run = [&](const dlc::Dataset &data, int epochs, const std::string &save,
                 const std::string &resume, std::string &output) {
    dlc_context *ctx = dlc_create(&m.desc, 3);
    REQUIRE(ctx);
    dlc::TrainOptions opts = toyOptions(m.desc, clean);
    opts.epochs = epochs;
    opts.seed = 4;
    opts.save = save;
    opts.resume = resume;
    opts.log = tmp.path("curves.csv");
    std::ostringstream out;
    std::string error;
    const bool ok = dlc::trainModel(ctx, data, opts, out, error);
    output = out.str() + error;
    dlc_destroy(ctx);
    return ok;
  };
  std::string straight, first, stopped, resumed;
  REQUIRE_MESSAGE(run(clean, 2, "", "", straight), straight);
  const std::string straightCsv = toy::readText(tmp.path("curves.csv"));
  const std::string ckpt = tmp.path("run.ckpt");
  REQUIRE_MESSAGE(run(clean, 1, ckpt, "", first), first);
  // Epoch 2 stops before the step that meets the NaN, saving where it was.
  REQUIRE_FALSE(run(poisoned, 2, ckpt, ckpt, stopped));
  REQUIRE(contains(stopped, "the loss of 'step' is NaN"));
  // Some of epoch 2 was counted before the stop.
  REQUIRE_MESSAGE(stepNamed(stopped.substr(stopped.find("the loss of"))) > 1, stopped);
  REQUIRE_MESSAGE(run(clean, 2, ckpt, ckpt, resumed), resumed);
  CHECK(contains(resumed, "resuming from"));
  const std::vector<std::string> whole = epochFigures(straight), rest = epochFigures(resumed);
  REQUIRE(whole.size() == 2);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0] == whole[1]);
  // The log of the resumed run holds both epochs, as the straight run's,
  // but for the seconds.
  auto withoutSeconds = [](const std::string &csv) {
    std::string kept;
    std::istringstream lines(csv);
    std::string line;
    while (std::getline(lines, line))
      kept += line.substr(0, line.find_last_of(',')) + "\n";
    return kept;
  };
  const std::string resumedCsv = toy::readText(tmp.path("curves.csv"));
  CHECK(withoutSeconds(resumedCsv) == withoutSeconds(straightCsv));
  CHECK(resumedCsv.rfind("epoch,loss,train_accuracy,seconds\n", 0) == 0);
}

TEST_CASE("trainer: the progress line fits the terminal, its bar narrowing first") {
  ModelBuilder m("toy", kBatch);
  buildToyWithScores(m, stepWithScoresEntry);
  const dlc::Dataset train = blobs(64, 1);
  // Each redraw of the line, as a terminal of `columns` would show it.
  auto redraws = [&](int columns) {
    dlc_context *ctx = dlc_create(&m.desc, 3);
    dlc::TrainOptions opts = toyOptions(m.desc, train);
    opts.progress = true;
    opts.columns = columns;
    std::ostringstream out;
    std::string error;
    REQUIRE_MESSAGE(dlc::trainModel(ctx, train, opts, out, error), error);
    dlc_destroy(ctx);
    std::vector<std::string> lines;
    std::istringstream parts(out.str());
    std::string part;
    while (std::getline(parts, part, '\r'))
      if (part.rfind("epoch 1/1 ", 0) == 0 && part.find(" s  ") == std::string::npos)
        lines.push_back(part);
    REQUIRE(!lines.empty());
    return lines;
  };
  for (const std::string &line : redraws(0))
    CHECK(contains(line, "[========================] 8/8  loss "));
  // The line is about 105 characters with its bar, 80 without (the digits
  // of samples/s vary): 100 columns narrow the bar, 80 leave no room for
  // one, 50 cut the end.
  for (const std::string &line : redraws(100)) {
    INFO(line);
    CHECK(line.size() <= 99);
    CHECK(contains(line, "epoch 1/1 [========"));
    CHECK(contains(line, "=] 8/8  loss "));
    CHECK_FALSE(contains(line, "[========================]"));
    CHECK(contains(line, " samples/s  ETA "));
  }
  for (int columns : {80, 50}) {
    for (const std::string &line : redraws(columns)) {
      INFO(line);
      CHECK(line.size() <= size_t(columns - 1));
      CHECK(line.rfind("epoch 1/1 8/8  loss ", 0) == 0);
    }
  }
}

namespace {

// A model that trains nothing and tallies what it is fed: its step adds
// each row's features to `seen` and counts itself in `steps`, and its loss
// is the mean of the rows' first feature.
template <int64_t Rows>
void tallyStep(char *state, char *, const void *const *in, void *const *out, const dlc_exec *) {
  const float *x = static_cast<const float *>(in[0]);
  float *seen = reinterpret_cast<float *>(state);
  float first = 0;
  for (int64_t r = 0; r < Rows; ++r) {
    seen[0] += x[r * kFeatures];
    seen[1] += x[r * kFeatures + 1];
    first += x[r * kFeatures];
  }
  *reinterpret_cast<int32_t *>(state + 64) += 1;
  *static_cast<float *>(out[0]) = first / float(Rows);
}

void buildTally(ModelBuilder &m, int64_t rows, dlc_entry_fn step, uint64_t signature = 0x7A11u) {
  m.addInput("x", DLC_F32, {rows, kFeatures});
  m.addInput("y", DLC_I32, {rows}, kClasses);
  m.addVar("seen", DLC_F32, {kFeatures}, DLC_INIT_ZEROS);
  m.addVar("steps", DLC_I32, {1}, DLC_INIT_ZEROS, 0, 0, false);
  m.addEntry("step", true, {0, 1}, {m.tensor("loss", DLC_F32, {})}, 64, step);
  m.finish(signature);
}

// Example i is (i, 1): sums of them are exact in float.
dlc::Dataset counting(int64_t count) {
  dlc::Dataset d;
  d.imageDims = {kFeatures};
  d.count = count;
  for (int64_t i = 0; i < count; ++i) {
    d.images.push_back(float(i));
    d.images.push_back(1.0f);
    d.labels.push_back(int32_t(i % 2));
  }
  return d;
}

} // namespace

TEST_CASE("trainer: an epoch's last partial batch is a step of the model at its rows") {
  // 203 examples: 25 batches of 8, then 3 rows on the model built for 3.
  ModelBuilder full("tally", kBatch), rest("tally", 3);
  buildTally(full, kBatch, tallyStep<kBatch>);
  buildTally(rest, 3, tallyStep<3>);
  dlc_context *ctx = dlc_create(&full.desc, 1), *restCtx = dlc_create(&rest.desc, 1);
  REQUIRE(ctx);
  REQUIRE(restCtx);
  const dlc::Dataset train = counting(203);
  dlc::TrainOptions opts = toyOptions(full.desc, train);
  opts.epochs = 2;
  opts.remainder = restCtx;
  std::ostringstream out;
  std::string error;
  REQUIRE_MESSAGE(dlc::trainModel(ctx, train, opts, out, error), error);
  // Every example once per epoch, and the rest step's variables come back.
  const float *seen = static_cast<const float *>(dlc_var_data(ctx, 0));
  CHECK(seen[0] == 2 * (202 * 203 / 2));
  CHECK(seen[1] == 2 * 203);
  CHECK(*static_cast<int32_t *>(dlc_var_data(ctx, 1)) == 2 * 26);
  // The epoch's loss weighs each step by its rows: the mean over examples.
  CHECK_MESSAGE(contains(out.str(), "epoch 2/2  loss 101.0000"), out.str());

  // Without it, the 3 rows left are not trained.
  dlc_context *alone = dlc_create(&full.desc, 1);
  opts.remainder = nullptr;
  REQUIRE_MESSAGE(dlc::trainModel(alone, train, opts, out, error), error);
  CHECK(*static_cast<int32_t *>(dlc_var_data(alone, 1)) == 2 * 25);
  CHECK(static_cast<const float *>(dlc_var_data(alone, 0))[1] == 2 * 200);
  dlc_destroy(alone);
  dlc_destroy(restCtx);
  dlc_destroy(ctx);
}

TEST_CASE("trainer: a model for the last partial batch that does not fit is refused") {
  ModelBuilder full("tally", kBatch), four("tally", 4), other("tally", 3), empty("tally", 3);
  buildTally(full, kBatch, tallyStep<kBatch>);
  buildTally(four, 4, tallyStep<4>);
  buildTally(other, 3, tallyStep<3>, 0xD1FFu);
  empty.addInput("x", DLC_F32, {3, kFeatures});
  empty.addVar("seen", DLC_F32, {kFeatures}, DLC_INIT_ZEROS);
  empty.addVar("steps", DLC_I32, {1}, DLC_INIT_ZEROS, 0, 0, false);
  empty.finish(0x7A11u);
  dlc_context *ctx = dlc_create(&full.desc, 1);
  const dlc::Dataset train = counting(203);
  dlc::TrainOptions opts = toyOptions(full.desc, train);
  std::ostringstream out;
  std::string error;
  auto refusal = [&](const dlc_model_desc &m) {
    dlc_context *restCtx = dlc_create(&m, 1);
    REQUIRE(restCtx);
    opts.remainder = restCtx;
    CHECK_FALSE(dlc::trainModel(ctx, train, opts, out, error));
    dlc_destroy(restCtx);
    return error;
  };
  CHECK(contains(refusal(four.desc), "has a batch of 4, not the 3 examples left after 25 "
                                     "batches of 8"));
  CHECK(contains(refusal(other.desc), "lay out different variables"));
  CHECK(contains(refusal(empty.desc), "has no train entry 'step'"));
  // Nothing trained: the variables are as created.
  CHECK(*static_cast<int32_t *>(dlc_var_data(ctx, 1)) == 0);
  dlc_destroy(ctx);
}
