// The host-side training driver behind `dlc train` / `dlc eval`: what feeds
// each model input, seeded shuffling and batching, the train loop with a
// progress line, evaluation and sample grids. It drives any compiled model
// through the runtime's C ABI only.
#pragma once

#include "runtime/dlc_runtime.h"
#include "runtime/host/Dataset.h"

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace dlc {

// What the trainer puts into a model input for each batch: the batch's
// images (an autoencoder's target too), its labels as integers or as
// one-hot rows, or standard normal noise (a GAN's latent vector).
enum class Feed { Images, Labels, OneHot, Noise };
const char *feedName(Feed f);
bool parseFeed(const std::string &text, Feed &out); // "images", "labels", ...

// A model input as the feed planner sees it; dims include the batch.
struct InputShape {
  std::string name;
  bool f32 = true;
  std::vector<int64_t> dims;
};

// Decides what feeds each input: `overrides` (--feed NAME=KIND) first, then
// the name (noise, z, latent: noise; onehot, one_hot: one-hot), then the
// shape: i32 with one value per example are labels, f32 with an image's
// values per example images, f32 with one value per class one-hot; any
// other f32 is refused (fed noise, an input named x would give garbage
// without a word: --feed says it). Returns false with a message that names the input when
// one cannot be fed (an override of an unknown input, a shape that does not
// fit its feed), so it can run before compiling.
// The inputs of a compiled model, as planFeeds takes them.
std::vector<InputShape> inputShapes(const dlc_model_desc *m);
bool planFeeds(const std::vector<InputShape> &inputs, int64_t batch, int64_t exampleSize,
               int64_t classes, const std::map<std::string, Feed> &overrides,
               std::map<std::string, Feed> &plan, std::string &error);

struct TrainOptions {
  int epochs = 1;
  uint64_t seed = 0;
  // Train entries run in this order on every batch; empty: every train
  // entry of the model, in its order.
  std::vector<std::string> steps;
  std::map<std::string, Feed> feeds; // from planFeeds
  int64_t classes = 10;
  bool progress = true;     // redraw a progress line (false: one line per epoch)
  int columns = 0;          // the terminal's width, which that line fits (0: unknown)
  // A loss or variable that turns NaN or infinite stops training with the
  // variables from before that step (false: warn once and go on).
  bool stopOnNonFinite = true;
  std::string samples;      // a PNG grid of predict's outputs after each epoch
  // After each epoch: the test metric on `validation` (when given), and the
  // curves so far as CSV (`log`) and SVG (`plot`), when given.
  const Dataset *validation = nullptr;
  std::string log, plot;
  // Checkpoints: `save` holds the variables and the run's position (epoch,
  // step, RNG states, curves) after every `every` steps counted from the
  // start of training (0: none), at the end, and before a bad step. `resume`
  // goes on from such a checkpoint exactly as the run would have, until
  // `epochs` epochs in all.
  std::string save, resume;
  int64_t every = 0;
  const Dataset *sampleFrom = nullptr; // images for the grid (the test split)
  // The same model compiled for the rows an epoch leaves after its full
  // batches (train.count % batch; dlc train compiles it with -Dbatch=N):
  // each epoch ends with a step of its train entries on those examples,
  // with the variables copied in and back (dlc_copy_state). Null: they are
  // not trained, and an epoch is its full batches.
  dlc_context *remainder = nullptr;
};

// Each step, every entry of `steps` runs on the same batch of examples (with
// fresh noise). The first output of a train entry is its scalar loss; a later
// output with the name and [batch, classes] shape of predict's first output,
// in an entry fed labels of as many classes, is the step's class scores,
// whose accuracy each epoch reports beside the loss (dlc train has the
// frontend add it). The last partial batch of an epoch is trained by
// opts.remainder, when given, else dropped. Returns false with `error` on
// failure. A step whose loss or variables come out NaN or infinite stops
// training (unless opts.stopOnNonFinite is false), leaving the variables as
// they were before that step; `error` names the step, and
// `*stoppedBeforeBadStep` (when given) is set. A resumed run that had
// already finished its epochs trains nothing and sets `*finishedBefore`.
bool trainModel(dlc_context *ctx, const Dataset &train, const TrainOptions &opts,
                std::ostream &out, std::string &error, bool *stoppedBeforeBadStep = nullptr,
                bool *finishedBefore = nullptr);

// The predict entry's first output for every example of `data`, in order
// (batch by batch, the last one partial): `values` holds data.count rows of
// `dims` (the output's shape without its batch dim).
bool predictAll(dlc_context *ctx, const Dataset &data, const TrainOptions &opts,
                std::vector<float> &values, std::vector<int64_t> &dims, std::string &error);

// The test metric of the predict entry's first output: accuracy when it is
// [batch, classes] scores, else the mean squared error against the images
// when it has an image's values per example (an autoencoder); `metric` is
// "accuracy" or "mse", or "" when neither applies (count 0).
struct EvalResult {
  std::string metric;
  double value = 0;
  int64_t count = 0;
};
bool evaluateModel(dlc_context *ctx, const Dataset &test, const TrainOptions &opts,
                   EvalResult &result, std::string &error);

} // namespace dlc
