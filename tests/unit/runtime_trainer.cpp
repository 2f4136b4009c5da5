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
