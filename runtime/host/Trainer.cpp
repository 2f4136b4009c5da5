// The training loop and evaluation behind `dlc train` / `dlc eval`: binds a
// dataset to a compiled entry's inputs, shuffles, batches and reports progress,
// all through the runtime's C ABI.
#include "runtime/host/Trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace dlc {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Where an entry takes its images (f32) and labels (i32), and the buffers
// that hold one batch of each plus every output. Allocated once per run, so
// the loop itself never allocates.
struct BoundEntry {
  int entry = -1;
  const dlc_entry_desc *desc = nullptr;
  int64_t batch = 0;
  int imageSlot = -1;
  int labelSlot = -1;
  std::vector<float> images;
  std::vector<int32_t> labels;
  std::vector<std::vector<uint32_t>> outputs; // 4-byte elements, any dtype
  std::vector<const void *> inputPtrs;
  std::vector<void *> outputPtrs;
};

bool bindEntry(const dlc_model_desc *m, int entry, bool labelsRequired, const Dataset &data,
               BoundEntry &b, std::string &error) {
  const dlc_entry_desc &e = m->entries[entry];
  b.entry = entry;
  b.desc = &e;
  b.batch = m->batch;
  const std::string what = "entry '" + std::string(e.name) + "' of model '" + m->name + "'";
  if (m->batch <= 0) {
    error = what + " has no batch dimension; the trainer needs batched inputs";
    return false;
  }
  for (int i = 0; i < e.n_inputs; ++i) {
    const dlc_tensor_desc &t = m->inputs[e.inputs[i]];
    int &slot = t.dtype == DLC_F32 ? b.imageSlot : b.labelSlot;
    if (slot >= 0) {
      error = what + " takes more than one " + (t.dtype == DLC_F32 ? "f32" : "i32") +
              " input ('" + m->inputs[e.inputs[slot]].name + "' and '" + t.name +
              "'); the trainer feeds one image and one label input";
      return false;
    }
    slot = i;
    const int64_t perExample = t.numel / m->batch;
    if (t.dtype == DLC_F32 && perExample != data.exampleSize()) {
      error = what + ": input '" + t.name + "' takes " + std::to_string(perExample) +
              " values per example, the dataset has " + std::to_string(data.exampleSize());
      return false;
    }
    if (t.dtype == DLC_I32 && perExample != 1) {
      error = what + ": label input '" + t.name + "' takes " + std::to_string(perExample) +
              " values per example, expected 1";
      return false;
    }
  }
  if (b.imageSlot < 0 || (labelsRequired && b.labelSlot < 0)) {
    error = what + " has no " + (b.imageSlot < 0 ? "f32 (image)" : "i32 (label)") + " input";
    return false;
  }
  if (e.n_outputs < 1 || e.outputs[0].dtype != DLC_F32) {
    error = what + (e.is_train ? " has no f32 loss as its first output (the trainer reports it)"
                               : " has no f32 first output (per-class scores)");
    return false;
  }
  b.images.assign(size_t(m->batch * data.exampleSize()), 0.0f);
  b.labels.assign(size_t(m->batch), 0);
  b.inputPtrs.assign(size_t(e.n_inputs), nullptr);
  b.inputPtrs[size_t(b.imageSlot)] = b.images.data();
  if (b.labelSlot >= 0)
    b.inputPtrs[size_t(b.labelSlot)] = b.labels.data();
  b.outputs.resize(size_t(e.n_outputs));
  for (int o = 0; o < e.n_outputs; ++o) {
    b.outputs[size_t(o)].assign(size_t(std::max<int64_t>(e.outputs[o].numel, 1)), 0);
    b.outputPtrs.push_back(b.outputs[size_t(o)].data());
  }
  return true;
}

// Copies examples first..first+rows (through `order` when shuffled) into the
// batch buffers.
void fillBatch(const Dataset &data, const int64_t *order, int64_t first, int64_t rows,
               BoundEntry &b) {
  const size_t exampleSize = size_t(data.exampleSize());
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t index = order ? order[first + r] : first + r;
    std::memcpy(&b.images[size_t(r) * exampleSize], &data.images[size_t(index) * exampleSize],
                exampleSize * sizeof(float));
    b.labels[size_t(r)] = data.labels[size_t(index)];
  }
}

// Uniform in [0, n) from the raw engine output, by rejection: the standard's
// distributions are implementation-defined, and a seed must give the same
// shuffle with every standard library.
uint64_t uniformBelow(std::mt19937_64 &rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = rng();
  while (x >= limit);
  return x % n;
}

void shuffle(std::vector<int64_t> &order, std::mt19937_64 &rng) {
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[uniformBelow(rng, i)]);
}

// The class count, if the model has a non-train entry whose first output is
// [batch, classes]: labels beyond it would index outside the logits.
int64_t classCount(const dlc_model_desc *m) {
  for (int e = 0; e < m->n_entries; ++e) {
    const dlc_entry_desc &entry = m->entries[e];
    if (!entry.is_train && entry.n_outputs > 0 && entry.outputs[0].rank == 2 &&
        entry.outputs[0].dims[0] == m->batch)
      return entry.outputs[0].dims[1];
  }
  return 0;
}

std::string formatDuration(double seconds) {
  const long s = long(std::lround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

class ProgressLine {
public:
  explicit ProgressLine(std::ostream &out) : out(out) {}

  void draw(int epoch, int epochs, int64_t step, int64_t steps, double meanLoss,
            double samplesPerSecond, double etaSeconds) {
    constexpr int kBarWidth = 24;
    const int filled = int(kBarWidth * step / std::max<int64_t>(steps, 1));
    std::string bar(size_t(filled), '=');
    if (filled < kBarWidth)
      bar += '>' + std::string(size_t(kBarWidth - filled - 1), ' ');
    char buf[256];
    const int n = std::snprintf(buf, sizeof buf,
                                "epoch %d/%d [%s] %lld/%lld  loss %.4f  %.0f samples/s  ETA %s",
                                epoch, epochs, bar.c_str(), (long long)step, (long long)steps,
                                meanLoss, samplesPerSecond, formatDuration(etaSeconds).c_str());
    // Pad over the previous line's tail: '\r' returns without erasing.
    const size_t len = size_t(std::max(n, 0));
    out << '\r' << buf << std::string(lastLength > len ? lastLength - len : 0, ' ')
        << std::flush;
    lastLength = len;
  }

  void clear() {
    if (lastLength)
      out << '\r' << std::string(lastLength, ' ') << '\r';
    lastLength = 0;
  }

private:
  std::ostream &out;
  size_t lastLength = 0;
};

} // namespace

bool trainModel(dlc_context *ctx, const Dataset &train, const TrainOptions &opts,
                std::ostream &out, std::string &error) {
  const dlc_model_desc *m = dlc_model(ctx);
  if (!m) {
    error = "no model context";
    return false;
  }
  int entry = -1;
  for (int e = 0; e < m->n_entries && entry < 0; ++e)
    if (m->entries[e].is_train &&
        (opts.trainEntry.empty() || opts.trainEntry == m->entries[e].name))
      entry = e;
  if (entry < 0) {
    error = opts.trainEntry.empty()
                ? "model '" + std::string(m->name) + "' has no train entry"
                : "model '" + std::string(m->name) + "' has no train entry '" +
                      opts.trainEntry + "'";
    return false;
  }
  BoundEntry b;
  if (!bindEntry(m, entry, /*labelsRequired=*/true, train, b, error))
    return false;
  if (train.count < b.batch) {
    error = "the training set has " + std::to_string(train.count) +
            " examples, fewer than one batch of " + std::to_string(b.batch);
    return false;
  }
  if (const int64_t classes = classCount(m)) {
    for (int64_t i = 0; i < train.count; ++i)
      if (train.labels[size_t(i)] < 0 || train.labels[size_t(i)] >= classes) {
        error = "label " + std::to_string(train.labels[size_t(i)]) + " of example " +
                std::to_string(i) + " is outside the model's " + std::to_string(classes) +
                " classes";
        return false;
      }
  }

  std::vector<int64_t> order(size_t(train.count));
  std::mt19937_64 rng(opts.seed);
  const int64_t steps = train.count / b.batch; // the last partial batch is dropped
  const int64_t totalSteps = steps * opts.epochs;
  ProgressLine progress(out);
  const Clock::time_point runStart = Clock::now();
  for (int epoch = 1; epoch <= opts.epochs; ++epoch) {
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = int64_t(i);
    shuffle(order, rng);
    const Clock::time_point epochStart = Clock::now();
    Clock::time_point lastDraw = epochStart;
    double lossSum = 0;
    for (int64_t step = 0; step < steps; ++step) {
      fillBatch(train, order.data(), step * b.batch, b.batch, b);
      if (dlc_run(ctx, entry, b.inputPtrs.data(), b.outputPtrs.data(), b.batch) != DLC_OK) {
        progress.clear();
        error = dlc_error(ctx);
        return false;
      }
      float loss;
      std::memcpy(&loss, b.outputs[0].data(), sizeof loss);
      if (!std::isfinite(loss)) {
        progress.clear();
        error = std::string("loss is ") + (std::isnan(loss) ? "NaN" : "infinite") +
                " at epoch " + std::to_string(epoch) + ", step " + std::to_string(step + 1) +
                "; training stopped (diverged? try a lower learning rate)";
        return false;
      }
      lossSum += loss;
      // Redrawing every step would cost more than a small model's step.
      const Clock::time_point now = Clock::now();
      if (opts.progress && (now - lastDraw > std::chrono::milliseconds(100) || step + 1 == steps)) {
        lastDraw = now;
        const double elapsed = secondsSince(runStart);
        const int64_t done = int64_t(epoch - 1) * steps + step + 1;
        const double stepsPerSecond = done / std::max(elapsed, 1e-9);
        progress.draw(epoch, opts.epochs, step + 1, steps, lossSum / double(step + 1),
                      stepsPerSecond * double(b.batch), double(totalSteps - done) / stepsPerSecond);
      }
    }
    const double seconds = secondsSince(epochStart);
    progress.clear();
    char line[160];
    std::snprintf(line, sizeof line, "epoch %d/%d  loss %.4f  %.1f s  %.0f samples/s\n", epoch,
                  opts.epochs, lossSum / double(steps), seconds,
                  double(steps * b.batch) / std::max(seconds, 1e-9));
    out << line << std::flush;
  }
  return true;
}

bool evaluateModel(dlc_context *ctx, const Dataset &test, EvalResult &result,
                   std::string &error) {
  const dlc_model_desc *m = dlc_model(ctx);
  if (!m) {
    error = "no model context";
    return false;
  }
  int entry = dlc_find_entry(m, "predict");
  for (int e = 0; e < m->n_entries && entry < 0; ++e)
    if (!m->entries[e].is_train)
      entry = e;
  if (entry < 0) {
    error = "model '" + std::string(m->name) + "' has no predict entry";
    return false;
  }
  BoundEntry b;
  if (!bindEntry(m, entry, /*labelsRequired=*/false, test, b, error))
    return false;
  const dlc_tensor_desc &scores = b.desc->outputs[0];
  if (scores.rank < 2 || scores.dims[0] != b.batch) {
    error = "entry '" + std::string(b.desc->name) + "': first output '" + scores.name +
            "' is not [batch, classes] scores";
    return false;
  }
  if (test.count <= 0) {
    error = "the test set is empty";
    return false;
  }
  const int64_t classes = scores.numel / b.batch;
  int64_t correct = 0;
  for (int64_t start = 0; start < test.count; start += b.batch) {
    // The last batch may be partial: dlc_run pads it and returns only `rows`.
    const int64_t rows = std::min(b.batch, test.count - start);
    fillBatch(test, nullptr, start, rows, b);
    if (dlc_run(ctx, entry, b.inputPtrs.data(), b.outputPtrs.data(), rows) != DLC_OK) {
      error = dlc_error(ctx);
      return false;
    }
    const float *out = reinterpret_cast<const float *>(b.outputs[0].data());
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = out + r * classes;
      const int64_t predicted = std::max_element(row, row + classes) - row;
      correct += predicted == test.labels[size_t(start + r)];
    }
  }
  result.count = test.count;
  result.accuracy = double(correct) / double(test.count);
  return true;
}

} // namespace dlc
