// The training loop and evaluation behind `dlc train` / `dlc eval`: binds a
// dataset to each compiled entry's inputs by the feed plan, shuffles,
// batches and reports progress, all through the runtime's C ABI.
#include "runtime/host/Trainer.h"
#include "runtime/host/Curves.h"
#include "runtime/host/Png.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <vector>

namespace dlc {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t perExample(const std::vector<int64_t> &dims, int64_t batch) {
  int64_t n = 1;
  for (int64_t d : dims)
    n *= d;
  return batch > 0 ? n / batch : n;
}

bool contains(const std::string &s, const char *part) { return s.find(part) != std::string::npos; }

} // namespace

const char *feedName(Feed f) {
  switch (f) {
  case Feed::Images: return "images";
  case Feed::Labels: return "labels";
  case Feed::OneHot: return "onehot";
  case Feed::Noise: return "noise";
  }
  return "?";
}

bool parseFeed(const std::string &text, Feed &out) {
  for (Feed f : {Feed::Images, Feed::Labels, Feed::OneHot, Feed::Noise})
    if (text == feedName(f)) {
      out = f;
      return true;
    }
  return false;
}

std::vector<InputShape> inputShapes(const dlc_model_desc *m) {
  std::vector<InputShape> shapes;
  for (int i = 0; i < m->n_inputs; ++i) {
    const dlc_tensor_desc &t = m->inputs[i];
    shapes.push_back({t.name, t.dtype == DLC_F32, std::vector<int64_t>(t.dims, t.dims + t.rank)});
  }
  return shapes;
}

bool planFeeds(const std::vector<InputShape> &inputs, int64_t batch, int64_t exampleSize,
               int64_t classes, const std::map<std::string, Feed> &overrides,
               std::map<std::string, Feed> &plan, std::string &error) {
  for (auto &[name, feed] : overrides) {
    bool known = false;
    for (const InputShape &in : inputs)
      known |= in.name == name;
    if (!known) {
      std::vector<std::string> names;
      for (const InputShape &in : inputs)
        names.push_back(in.name);
      error = fmt::format("--feed {0}={1}: the model has no input '{0}' (its inputs: {2})", name,
                          feedName(feed), fmt::join(names, ", "));
      return false;
    }
  }
  for (const InputShape &in : inputs) {
    if (batch <= 0 || in.dims.empty() || in.dims[0] != batch) {
      error = fmt::format("input '{}' has no batch dimension, so the trainer cannot feed it",
                          in.name);
      return false;
    }
    const int64_t size = perExample(in.dims, batch);
    const std::string lower = [&] {
      std::string s = in.name;
      for (char &c : s)
        c = (char)std::tolower((unsigned char)c);
      return s;
    }();
    Feed feed;
    auto given = overrides.find(in.name);
    if (given != overrides.end())
      feed = given->second;
    else if (!in.f32)
      feed = Feed::Labels;
    else if (lower == "noise" || lower == "z" || contains(lower, "latent"))
      feed = Feed::Noise;
    else if (contains(lower, "onehot") || contains(lower, "one_hot"))
      feed = Feed::OneHot;
    else if (size == exampleSize)
      feed = Feed::Images;
    else if (size == classes)
      feed = Feed::OneHot;
    else // a size that fits nothing: the check below says so, rather than feed noise
      feed = Feed::Images;
    std::string want;
    switch (feed) {
    case Feed::Images:
      if (!in.f32 || size != exampleSize)
        want = fmt::format("f32 with {} values per example", exampleSize);
      break;
    case Feed::Labels:
      if (in.f32 || size != 1)
        want = "i32 with one value per example";
      break;
    case Feed::OneHot:
      if (!in.f32 || size != classes)
        want = fmt::format("f32 with {} values (one per class) per example", classes);
      break;
    case Feed::Noise:
      if (!in.f32)
        want = "f32";
      break;
    }
    if (!want.empty()) {
      error = fmt::format(
          "input '{}' ({}, {} per example) cannot be fed {}: that needs {}{}", in.name,
          in.f32 ? "f32" : "i32", size, feedName(feed), want,
          given != overrides.end()
              ? ""
              : fmt::format("; say what feeds it with --feed {}=images|labels|onehot|noise",
                            in.name));
      return false;
    }
    plan[in.name] = feed;
  }
  return true;
}

namespace {

// Standard normal numbers from the engine's raw output (Box-Muller): the
// standard's distributions are implementation-defined, and a seed must give
// the same noise with every standard library.
struct NormalRng {
  std::mt19937_64 engine;
  explicit NormalRng(uint64_t seed) : engine(seed) {}
  double uniform() { return double(engine() >> 11) * 0x1.0p-53; }
  float next() {
    const double u = 1.0 - uniform(), v = uniform();
    return float(std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v));
  }
};

// One entry's inputs and outputs for a batch, each input with its feed.
// Allocated once per run, so the loop itself never allocates.
struct BoundEntry {
  int entry = -1;
  const dlc_entry_desc *desc = nullptr;
  int64_t batch = 0;
  std::vector<Feed> feeds;                     // per input
  std::vector<int64_t> sizes;                  // values per example, per input
  std::vector<std::vector<uint32_t>> inputs;   // 4-byte elements, f32 or i32
  std::vector<std::vector<uint32_t>> outputs;
  std::vector<const void *> inputPtrs;
  std::vector<void *> outputPtrs;
  // A train entry's output holding the batch's class scores, whose argmax
  // is compared with the labels for the training accuracy; -1: none.
  int scores = -1;
  bool has(Feed f) const { return std::find(feeds.begin(), feeds.end(), f) != feeds.end(); }
};

bool bindEntry(const dlc_model_desc *m, int entry, const TrainOptions &opts,
               const Dataset &data, BoundEntry &b, std::string &error) {
  const dlc_entry_desc &e = m->entries[entry];
  b.entry = entry;
  b.desc = &e;
  b.batch = m->batch;
  for (int i = 0; i < e.n_inputs; ++i) {
    const dlc_tensor_desc &t = m->inputs[e.inputs[i]];
    auto it = opts.feeds.find(t.name);
    if (it == opts.feeds.end()) {
      error = fmt::format("entry '{}': no feed for input '{}'", e.name, t.name);
      return false;
    }
    b.feeds.push_back(it->second);
    b.sizes.push_back(t.numel / m->batch);
    if (it->second == Feed::Images && b.sizes.back() != data.exampleSize()) {
      error = fmt::format("entry '{}': input '{}' takes {} values per example, the dataset has {}",
                          e.name, t.name, b.sizes.back(), data.exampleSize());
      return false;
    }
    b.inputs.emplace_back(size_t(t.numel), 0u);
    b.inputPtrs.push_back(b.inputs.back().data());
  }
  if (e.n_outputs < 1 || e.outputs[0].dtype != DLC_F32) {
    error = fmt::format("entry '{}' of model '{}' {}", e.name, m->name,
                        e.is_train ? "has no f32 loss as its first output (the trainer reports it)"
                                   : "has no f32 first output");
    return false;
  }
  b.outputs.resize(size_t(e.n_outputs));
  for (int o = 0; o < e.n_outputs; ++o) {
    b.outputs[size_t(o)].assign(size_t(std::max<int64_t>(e.outputs[o].numel, 1)), 0);
    b.outputPtrs.push_back(b.outputs[size_t(o)].data());
  }
  return true;
}

// Fills rows 0..rows-1 of each input with examples first.. (through `order`
// when shuffled), as each input's feed says.
void fillBatch(const Dataset &data, const int64_t *order, int64_t first, int64_t rows,
               BoundEntry &b, NormalRng &noise) {
  const size_t exampleSize = size_t(data.exampleSize());
  for (size_t i = 0; i < b.feeds.size(); ++i) {
    const size_t size = size_t(b.sizes[i]);
    uint32_t *dst = b.inputs[i].data();
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t index = order ? order[first + r] : first + r;
      uint32_t *row = dst + size_t(r) * size;
      switch (b.feeds[i]) {
      case Feed::Images:
        std::memcpy(row, &data.images[size_t(index) * exampleSize], exampleSize * sizeof(float));
        break;
      case Feed::Labels: {
        int32_t label = data.labels[size_t(index)];
        std::memcpy(row, &label, sizeof label);
        break;
      }
      case Feed::OneHot: {
        float *v = reinterpret_cast<float *>(row);
        std::fill(v, v + size, 0.0f);
        if (size_t(data.labels[size_t(index)]) < size)
          v[data.labels[size_t(index)]] = 1.0f;
        break;
      }
      case Feed::Noise: {
        float *v = reinterpret_cast<float *>(row);
        for (size_t k = 0; k < size; ++k)
          v[k] = noise.next();
        break;
      }
      }
    }
  }
}

// Uniform in [0, n) from the raw engine output, by rejection (see NormalRng).
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
  if (s >= 3600)
    return fmt::format("{}h{:02}m", s / 3600, s / 60 % 60);
  return fmt::format("{}m{:02}s", s / 60, s % 60);
}

// What an epoch has measured so far: the sum of each entry's losses, and
// of the examples the entries' class scores (BoundEntry::scores) got right
// out of those scored.
struct EpochSums {
  std::vector<double> losses; // per entry
  int64_t correct = 0, scored = 0;
  explicit EpochSums(size_t entries = 0) : losses(entries, 0.0) {}
};

// "loss 0.4321  accuracy 81.25%", or "d_step 0.6931  g_step 0.7012" for
// several entries; the accuracy when some entry outputs class scores. Each
// step's loss is its batch's mean, summed weighted by its rows over the
// batch (a partial batch counts for less, as Keras weighs it), so the
// epoch's loss is the mean over `batches` batches' worth of examples.
std::string metricsText(const std::vector<BoundEntry> &entries, const EpochSums &sums,
                        double batches) {
  std::string text;
  auto out = std::back_inserter(text);
  for (size_t k = 0; k < entries.size(); ++k)
    fmt::format_to(out, "{}{} {:.4f}", k ? "  " : "",
                   entries.size() == 1 ? "loss" : entries[k].desc->name,
                   sums.losses[k] / std::max(batches, 1e-9));
  if (sums.scored > 0)
    fmt::format_to(out, "  accuracy {:.2f}%", 100.0 * double(sums.correct) / double(sums.scored));
  return text;
}

// The output of train entry `b` holding class scores to count correct
// predictions with, or -1. dlc train asks the frontend for one
// (FrontendOptions::scoresInTrainEntries): an output after the loss with
// the name and the [batch, classes] shape of the predict entry's first
// output. Those are class scores only when the entry is fed labels of as
// many classes: an i32 input of that index bound, or one-hot rows that long
// (a reconstruction is no argmax away from a label).
int scoresOutput(const dlc_model_desc *m, int predict, const BoundEntry &b) {
  if (predict < 0 || !b.desc->is_train)
    return -1;
  const dlc_entry_desc &p = m->entries[predict];
  if (p.n_outputs < 1)
    return -1;
  const dlc_tensor_desc &want = p.outputs[0];
  if (want.dtype != DLC_F32 || want.rank != 2 || want.dims[0] != m->batch)
    return -1;
  bool labelled = false;
  for (size_t i = 0; i < b.feeds.size(); ++i)
    labelled |= (b.feeds[i] == Feed::Labels &&
                 m->inputs[b.desc->inputs[i]].index_bound == want.dims[1]) ||
                (b.feeds[i] == Feed::OneHot && b.sizes[i] == want.dims[1]);
  if (!labelled)
    return -1;
  for (int o = 1; o < b.desc->n_outputs; ++o) {
    const dlc_tensor_desc &t = b.desc->outputs[o];
    if (std::strcmp(t.name, want.name) == 0 && t.dtype == DLC_F32 && t.rank == 2 &&
        t.dims[0] == want.dims[0] && t.dims[1] == want.dims[1])
      return o;
  }
  return -1;
}

class ProgressLine {
public:
  // `columns`: the terminal's width, 0 if unknown.
  ProgressLine(std::ostream &out, int columns) : out(out), columns(columns) {}

  void draw(int epoch, int epochs, int64_t step, int64_t steps, const std::string &metrics,
            double samplesPerSecond, double etaSeconds) {
    const std::string head = fmt::format("epoch {}/{}", epoch, epochs);
    const std::string tail = fmt::format("{}/{}  {}  {:.0f} samples/s  ETA {}", step, steps,
                                         metrics, samplesPerSecond, formatDuration(etaSeconds));
    // A line wider than the terminal wraps, and '\r' returns only to the
    // start of its last row: every redraw would leave a line behind. The
    // bar narrows first, then goes; what is still too wide is cut.
    constexpr int kBarWidth = 24, kNarrowest = 8;
    const int room = columns > 0 ? columns - 1 : INT_MAX;
    const int width = int(std::min<int64_t>(
        kBarWidth, int64_t(room) - int64_t(head.size() + tail.size() + 4)));
    std::string line;
    if (width >= kNarrowest) {
      // "[=====>   ]": `filled` '=', then the head of the bar and spaces.
      const int filled = int(width * step / std::max<int64_t>(steps, 1));
      line = fmt::format("{} [{}{:<{}}] {}", head, std::string(size_t(filled), '='),
                         filled < width ? ">" : "", std::max(width - filled, 0), tail);
    } else {
      line = fmt::format("{} {}", head, tail);
    }
    if (line.size() > size_t(room))
      line.resize(size_t(room));
    // Pad over the previous line's tail: '\r' returns without erasing.
    const size_t len = line.size();
    out << '\r' << line << std::string(lastLength > len ? lastLength - len : 0, ' ')
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
  int columns;
  size_t lastLength = 0;
};

int predictEntry(const dlc_model_desc *m) {
  int entry = dlc_find_entry(m, "predict");
  for (int e = 0; e < m->n_entries && entry < 0; ++e)
    if (!m->entries[e].is_train)
      entry = e;
  return entry;
}

// Runs predict on examples first..first+count-1 (in batches), calling
// take(row, output values) for each.
template <class Take>
bool predictRows(dlc_context *ctx, BoundEntry &b, const Dataset &data, int64_t count,
                 NormalRng &noise, Take take, std::string &error) {
  for (int64_t start = 0; start < count; start += b.batch) {
    // The last batch may be partial: dlc_run pads it and returns only `rows`.
    const int64_t rows = std::min(b.batch, count - start);
    fillBatch(data, nullptr, start, rows, b, noise);
    if (dlc_run(ctx, b.entry, b.inputPtrs.data(), b.outputPtrs.data(), rows) != DLC_OK) {
      error = dlc_error(ctx);
      return false;
    }
    const float *out = reinterpret_cast<const float *>(b.outputs[0].data());
    const int64_t size = b.desc->outputs[0].numel / b.batch;
    for (int64_t r = 0; r < rows; ++r)
      take(start + r, out + r * size);
  }
  return true;
}

// A grid of predict's first output as images, 8 tiles a row: each example's
// output below its input when predict reads images (reconstructions), else
// 64 outputs (samples from noise, the same noise every epoch).
bool writeSamples(dlc_context *ctx, const TrainOptions &opts, std::string &error) {
  const dlc_model_desc *m = dlc_model(ctx);
  const Dataset &data = *opts.sampleFrom;
  const int entry = predictEntry(m);
  BoundEntry b;
  if (entry < 0 || !bindEntry(m, entry, opts, data, b, error)) {
    error = fmt::format("--samples: {}", entry < 0 ? "the model has no predict entry" : error);
    return false;
  }
  const int64_t size = b.desc->outputs[0].numel / b.batch;
  if (size != data.exampleSize() || data.imageDims.size() != 2) {
    error = fmt::format("--samples: predict's first output '{}' has {} values per example, not "
                        "an image of {}",
                        b.desc->outputs[0].name, size, data.exampleSize());
    return false;
  }
  const bool pairs = b.has(Feed::Images);
  const int64_t count = std::min<int64_t>(pairs ? 32 : 64, data.count);
  const int64_t h = data.imageDims[0], w = data.imageDims[1], gap = 2, cols = 8;
  const int64_t tileRows = (pairs ? 2 : 1) * ((count + cols - 1) / cols);
  const int64_t width = cols * (w + gap) + gap, height = tileRows * (h + gap) + gap;
  std::vector<uint8_t> pixels(size_t(width * height), 96);
  auto tile = [&](int64_t row, int64_t col, const float *v) {
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const float p = std::min(std::max(v[y * w + x], 0.0f), 1.0f);
        pixels[size_t((gap + row * (h + gap) + y) * width + gap + col * (w + gap) + x)] =
            uint8_t(std::lround(p * 255.0f));
      }
  };
  NormalRng noise(opts.seed ^ 0x5A3D1E5ull);
  bool ok = predictRows(ctx, b, data, count, noise, [&](int64_t i, const float *out) {
    const int64_t row = (pairs ? 2 : 1) * (i / cols), col = i % cols;
    if (pairs)
      tile(row, col, &data.images[size_t(i * size)]);
    tile(row + (pairs ? 1 : 0), col, out);
  }, error);
  return ok && writeGrayPng(opts.samples, int(width), int(height), pixels, error);
}

// A copy of every variable and of the noise stream's position, taken at a
// step while every variable is finite (see trainModel).
struct Snapshot {
  int64_t step = 0;
  std::vector<std::vector<char>> vars;
  NormalRng noise{0};
  EpochSums sums; // of the epoch's steps before `step`
};

size_t varBytes(const dlc_tensor_desc &v) { return size_t(v.numel) * 4; }

void takeSnapshot(dlc_context *ctx, int64_t step, const NormalRng &noise, Snapshot &s) {
  const dlc_model_desc *m = dlc_model(ctx);
  s.step = step;
  s.noise = noise;
  s.vars.resize(size_t(m->n_vars));
  for (int v = 0; v < m->n_vars; ++v) {
    const char *data = static_cast<const char *>(dlc_var_data(ctx, v));
    s.vars[size_t(v)].assign(data, data + varBytes(m->vars[v]));
  }
}

void restoreSnapshot(dlc_context *ctx, const Snapshot &s, NormalRng &noise) {
  const dlc_model_desc *m = dlc_model(ctx);
  noise = s.noise;
  for (int v = 0; v < m->n_vars; ++v)
    std::memcpy(dlc_var_data(ctx, v), s.vars[size_t(v)].data(), s.vars[size_t(v)].size());
}

// The first f32 variable holding a NaN or an infinity, or -1.
int firstNonFiniteVar(dlc_context *ctx) {
  const dlc_model_desc *m = dlc_model(ctx);
  for (int v = 0; v < m->n_vars; ++v) {
    if (m->vars[v].dtype != DLC_F32)
      continue;
    const float *p = static_cast<const float *>(dlc_var_data(ctx, v));
    for (int64_t i = 0; i < m->vars[v].numel; ++i)
      if (!std::isfinite(p[i]))
        return v;
  }
  return -1;
}

const char *nonFiniteName(float x) { return std::isnan(x) ? "NaN" : "infinite"; }

// Where a run is, saved in a checkpoint's host section so that --resume goes
// on exactly as if the run had not stopped: the epoch in progress and the
// steps of it done, the shuffling RNG as it was at that epoch's start (its
// order is drawn again), the noise RNG as it is now, the epoch's loss sums and
// correct predictions so far and the finished epochs' curves. Text, with
// floats in hexadecimal so they come back bit for bit. Version 2 added the
// training accuracy (the train_correct line, and a field of each finished
// epoch); a version 1 state still resumes, its epochs without one.
struct TrainerState {
  int64_t examples = 0, batch = 0;
  std::string entries; // "d_step,g_step"
  int epoch = 1;
  int64_t step = 0;
  std::string shuffleRng, noiseRng;
  EpochSums sums;
  Curves curves;
};

constexpr const char *kStateMagic = "dlc-train-state 2";
constexpr const char *kStateMagicV1 = "dlc-train-state 1";

std::string hexDouble(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

std::string serialize(const TrainerState &s) {
  std::ostringstream out;
  out << kStateMagic << "\nexamples " << s.examples << "\nbatch " << s.batch << "\nentries "
      << s.entries << "\nepoch " << s.epoch << "\nstep " << s.step << "\nshuffle_rng "
      << s.shuffleRng << "\nnoise_rng " << s.noiseRng << "\nloss_sums";
  for (double v : s.sums.losses)
    out << " " << hexDouble(v);
  out << "\ntrain_correct " << s.sums.correct << " " << s.sums.scored;
  out << "\nmetric " << (s.curves.metric.empty() ? "-" : s.curves.metric) << "\n";
  for (const EpochRecord &r : s.curves.epochs) {
    out << "finished " << r.epoch << " " << hexDouble(r.seconds) << " " << r.validated << " "
        << hexDouble(r.testMetric) << " "
        << hexDouble(r.hasTrainAccuracy ? r.trainAccuracy : NAN);
    for (double l : r.losses)
      out << " " << hexDouble(l);
    out << "\n";
  }
  return out.str();
}

bool parseHexDouble(std::istream &in, double &v) {
  std::string word;
  if (!(in >> word))
    return false;
  char *end = nullptr;
  v = std::strtod(word.c_str(), &end);
  return end && *end == '\0';
}

// False when the text is not a state this trainer wrote.
bool deserialize(const std::string &text, size_t entryCount, TrainerState &s) {
  std::istringstream in(text);
  std::string line, key;
  if (!std::getline(in, line) || (line != kStateMagic && line != kStateMagicV1))
    return false;
  const bool v1 = line == kStateMagicV1;
  auto field = [&](const char *name) {
    return std::getline(in, line) && line.compare(0, std::strlen(name) + 1,
                                                  std::string(name) + " ") == 0;
  };
  auto rest = [&](const char *name) { return line.substr(std::strlen(name) + 1); };
  if (!field("examples") || !(std::istringstream(rest("examples")) >> s.examples) ||
      !field("batch") || !(std::istringstream(rest("batch")) >> s.batch) ||
      !field("entries") || (s.entries = rest("entries")).empty() || !field("epoch") ||
      !(std::istringstream(rest("epoch")) >> s.epoch) || !field("step") ||
      !(std::istringstream(rest("step")) >> s.step) || !field("shuffle_rng") ||
      (s.shuffleRng = rest("shuffle_rng")).empty() || !field("noise_rng") ||
      (s.noiseRng = rest("noise_rng")).empty() || !std::getline(in, line) ||
      line.compare(0, 9, "loss_sums") != 0)
    return false;
  std::istringstream sums(line.substr(9));
  double v;
  while (parseHexDouble(sums, v))
    s.sums.losses.push_back(v);
  if (s.sums.losses.size() != entryCount)
    return false;
  if (!v1 && (!field("train_correct") ||
              !(std::istringstream(rest("train_correct")) >> s.sums.correct >> s.sums.scored) ||
              s.sums.correct < 0 || s.sums.correct > s.sums.scored))
    return false;
  if (!field("metric"))
    return false;
  s.curves.metric = rest("metric") == "-" ? "" : rest("metric");
  while (std::getline(in, line)) {
    std::istringstream rec(line);
    EpochRecord r;
    if (!(rec >> key) || key != "finished" || !(rec >> r.epoch) ||
        !parseHexDouble(rec, r.seconds) || !(rec >> r.validated) ||
        !parseHexDouble(rec, r.testMetric) || (!v1 && !parseHexDouble(rec, r.trainAccuracy)))
      return false;
    r.hasTrainAccuracy = !v1 && !std::isnan(r.trainAccuracy);
    if (!r.hasTrainAccuracy)
      r.trainAccuracy = 0;
    while (parseHexDouble(rec, v))
      r.losses.push_back(v);
    if (r.losses.size() != entryCount)
      return false;
    s.curves.epochs.push_back(r);
  }
  return s.epoch >= 1 && s.step >= 0 && s.batch > 0 && s.examples > 0;
}

} // namespace

bool trainModel(dlc_context *ctx, const Dataset &train, const TrainOptions &opts,
                std::ostream &out, std::string &error, bool *stoppedBeforeBadStep,
                bool *finishedBefore) {
  const dlc_model_desc *m = dlc_model(ctx);
  if (!m) {
    error = "no model context";
    return false;
  }
  std::vector<int> order;
  if (opts.steps.empty()) {
    for (int e = 0; e < m->n_entries; ++e)
      if (m->entries[e].is_train)
        order.push_back(e);
    if (order.empty()) {
      error = fmt::format("model '{}' has no train entry", m->name);
      return false;
    }
  }
  for (const std::string &name : opts.steps) {
    const int e = dlc_find_entry(m, name.c_str());
    if (e < 0 || !m->entries[e].is_train) {
      std::vector<std::string> names;
      for (int k = 0; k < m->n_entries; ++k)
        if (m->entries[k].is_train)
          names.push_back(m->entries[k].name);
      error = fmt::format("--steps: model '{}' has no train entry '{}' (its train entries: {})",
                          m->name, name,
                          names.empty() ? "none" : fmt::to_string(fmt::join(names, ", ")));
      return false;
    }
    order.push_back(e);
  }
  if (m->batch <= 0) {
    error = fmt::format("model '{}' has no batch dimension; the trainer needs batched inputs",
                        m->name);
    return false;
  }
  std::vector<BoundEntry> entries(order.size());
  bool labels = false;
  for (size_t k = 0; k < order.size(); ++k) {
    if (!bindEntry(m, order[k], opts, train, entries[k], error))
      return false;
    labels |= entries[k].has(Feed::Labels) || entries[k].has(Feed::OneHot);
    entries[k].scores = scoresOutput(m, predictEntry(m), entries[k]);
  }
  if (train.count < m->batch) {
    error = fmt::format("the training set has {} examples, fewer than one batch of {}",
                        train.count, m->batch);
    return false;
  }
  const int64_t classes = classCount(m);
  if (labels && classes)
    for (int64_t i = 0; i < train.count; ++i)
      if (train.labels[size_t(i)] < 0 || train.labels[size_t(i)] >= classes) {
        error = fmt::format("label {} of example {} is outside the model's {} classes",
                            train.labels[size_t(i)], i, classes);
        return false;
      }

  // An epoch is its full batches, then (with opts.remainder) one step on
  // the examples left, run by the same entries of the model compiled at
  // that many rows on a copy of the variables, which is copied back.
  const int64_t batch = m->batch;
  const int64_t fullSteps = train.count / batch, rest = train.count % batch;
  dlc_context *restCtx = rest > 0 ? opts.remainder : nullptr;
  std::vector<BoundEntry> restEntries(restCtx ? order.size() : 0);
  if (restCtx) {
    const dlc_model_desc *r = dlc_model(restCtx);
    if (r->batch != rest) {
      error = fmt::format("the model for the last partial batch has a batch of {}, not the {} "
                          "examples left after {} batches of {}",
                          r->batch, rest, fullSteps, batch);
      return false;
    }
    if (dlc_copy_state(restCtx, ctx) != DLC_OK) {
      error = dlc_error(restCtx);
      return false;
    }
    for (size_t k = 0; k < order.size(); ++k) {
      const int e = dlc_find_entry(r, m->entries[order[k]].name);
      if (e < 0 || !r->entries[e].is_train) {
        error = fmt::format("the model for the last partial batch has no train entry '{}'",
                            m->entries[order[k]].name);
        return false;
      }
      if (!bindEntry(r, e, opts, train, restEntries[k], error))
        return false;
      restEntries[k].scores = scoresOutput(r, predictEntry(r), restEntries[k]);
    }
  }
  const int64_t steps = fullSteps + (restCtx ? 1 : 0);
  // The examples an epoch trains, and its steps' batches' worth of them
  // before `step` (metricsText).
  const int64_t trained = restCtx ? train.count : fullSteps * batch;
  auto batchesBefore = [&](int64_t step) {
    return step <= fullSteps ? double(step) : double(fullSteps) + double(rest) / double(batch);
  };
  auto weightOf = [&](int64_t step) {
    return step < fullSteps ? 1.0 : double(rest) / double(batch);
  };

  std::vector<int64_t> shuffled(size_t(train.count));
  std::mt19937_64 rng(opts.seed);
  NormalRng noise(opts.seed ^ 0x9E3779B97F4A7C15ull); // its own stream
  const int64_t totalSteps = steps * opts.epochs;
  ProgressLine progress(out, opts.columns);
  const Clock::time_point runStart = Clock::now();
  std::string entryNames;
  for (const BoundEntry &b : entries)
    entryNames += (entryNames.empty() ? "" : ",") + std::string(b.desc->name);

  Curves curves;
  curves.entries.clear();
  for (const BoundEntry &b : entries)
    curves.entries.push_back(b.desc->name);
  int firstEpoch = 1;
  int64_t firstStep = 0;
  EpochSums resumedSums(entries.size());
  if (!opts.resume.empty()) {
    void *blob = nullptr;
    size_t blobBytes = 0;
    if (dlc_read_host_state(ctx, opts.resume.c_str(), &blob, &blobBytes) != DLC_OK) {
      error = dlc_error(ctx);
      return false;
    }
    const std::string text(static_cast<const char *>(blob), blobBytes);
    std::free(blob);
    TrainerState s;
    if (text.empty()) {
      out << fmt::format("resuming from {}: it holds variables but no position in the data "
                         "(saved by the library, or by dlc before format 2), so training starts "
                         "at epoch 1 with them\n",
                         opts.resume);
    } else if (!deserialize(text, entries.size(), s)) {
      error = fmt::format("{}: the trainer's state in this checkpoint cannot be read",
                          opts.resume);
      return false;
    } else if (s.examples != train.count || s.batch != batch || s.entries != entryNames) {
      error = fmt::format("cannot resume from {}: it was trained on {} examples in batches of "
                          "{} by entries {}, this run has {} examples in batches of {} by "
                          "entries {}",
                          opts.resume, s.examples, s.batch, s.entries, train.count, batch,
                          entryNames);
      return false;
    } else if (!(std::istringstream(s.shuffleRng) >> rng) ||
               !(std::istringstream(s.noiseRng) >> noise.engine)) {
      error = fmt::format("{}: the trainer's random number states cannot be read", opts.resume);
      return false;
    } else {
      firstEpoch = s.epoch;
      firstStep = s.step;
      resumedSums = s.sums;
      curves = s.curves;
      curves.entries.clear();
      for (const BoundEntry &b : entries)
        curves.entries.push_back(b.desc->name);
      if (firstEpoch > opts.epochs) {
        out << fmt::format("the run saved in {} has finished {} epoch{} (--epochs {}): nothing "
                           "to train\n",
                           opts.resume, firstEpoch - 1, firstEpoch == 2 ? "" : "s",
                           opts.epochs);
        if (finishedBefore)
          *finishedBefore = true;
        return dlc_load(ctx, opts.resume.c_str()) == DLC_OK || (error = dlc_error(ctx), false);
      }
      if (firstStep > steps) {
        error = fmt::format("cannot resume from {}: its position, step {} of epoch {}, lies "
                            "beyond an epoch of {} steps",
                            opts.resume, firstStep, firstEpoch, steps);
        return false;
      }
      out << fmt::format("resuming from {} at step {} of epoch {}\n", opts.resume, firstStep,
                         firstEpoch);
    }
    if (dlc_load(ctx, opts.resume.c_str()) != DLC_OK) {
      error = dlc_error(ctx);
      return false;
    }
  }

  // Saves the variables and where the run is: `epoch` in progress with
  // `stepsDone` of its steps done, its order drawn from `epochRng`.
  auto save = [&](int epoch, int64_t stepsDone, const std::mt19937_64 &epochRng,
                  const EpochSums &sums) {
    TrainerState s;
    s.examples = train.count;
    s.batch = batch;
    s.entries = entryNames;
    s.epoch = epoch;
    s.step = stepsDone;
    std::ostringstream shuffleState, noiseState;
    shuffleState << epochRng;
    noiseState << noise.engine;
    s.shuffleRng = shuffleState.str();
    s.noiseRng = noiseState.str();
    s.sums = sums;
    s.curves = curves;
    const std::string text = serialize(s);
    if (dlc_save_host(ctx, opts.save.c_str(), text.data(), text.size()) != DLC_OK) {
      progress.clear();
      error = dlc_error(ctx);
      return false;
    }
    return true;
  };

  // One train entry on one batch; false when dlc_run refused it. The
  // batch's correct predictions, when the entry outputs scores, go into
  // `sums`; its loss is left to the caller, who checks it first.
  // The last partial batch runs on restCtx, between copies of the
  // variables, so that ctx holds them after every entry.
  auto runEntry = [&](int64_t step, size_t k, float &loss, EpochSums &sums) {
    const bool last = step == fullSteps;
    BoundEntry &b = last ? restEntries[k] : entries[k];
    dlc_context *runner = last ? restCtx : ctx;
    const int64_t rows = b.batch;
    fillBatch(train, shuffled.data(), step * batch, rows, b, noise);
    if ((last && dlc_copy_state(runner, ctx) != DLC_OK) ||
        dlc_run(runner, b.entry, b.inputPtrs.data(), b.outputPtrs.data(), rows) != DLC_OK ||
        (last && dlc_copy_state(ctx, runner) != DLC_OK)) {
      progress.clear();
      error = dlc_error(runner);
      return false;
    }
    std::memcpy(&loss, b.outputs[0].data(), sizeof loss);
    if (b.scores >= 0) {
      const float *scores = reinterpret_cast<const float *>(b.outputs[size_t(b.scores)].data());
      const int64_t classes = b.desc->outputs[b.scores].dims[1];
      for (int64_t r = 0; r < rows; ++r) {
        const float *row = scores + r * classes;
        const int64_t guess = std::max_element(row, row + classes) - row;
        sums.correct += guess == train.labels[size_t(shuffled[size_t(step * batch + r)])];
      }
      sums.scored += rows;
    }
    return true;
  };

  // A step that makes the loss or a variable NaN or infinite must not cost
  // the training before it. Every kSnapshotEvery steps, while all variables
  // are finite, the trainer copies them (a memcpy of the state per 100
  // batches: noise next to a step). When a loss comes out non-finite, or the
  // variables are found non-finite at the next copy (a NaN can hide from the
  // loss behind a relu), it goes back to the copy and replays the batches
  // since, checking the loss and the variables after each entry, to find the
  // first that went bad; then it replays up to just before that one. Steps
  // are deterministic, so the replay recomputes exactly what ran before, and
  // the variables left are those from before the bad step.
  constexpr int64_t kSnapshotEvery = 100;
  Snapshot snapshot;
  std::mt19937_64 epochRng = rng; // as it was when the epoch's order was drawn
  auto stopBeforeBadStep = [&](int epoch, int64_t upTo) {
    restoreSnapshot(ctx, snapshot, noise);
    int64_t badStep = -1;
    std::string what;
    for (int64_t s = snapshot.step; s <= std::min(upTo, steps - 1) && badStep < 0; ++s)
      for (size_t k = 0; k < entries.size() && badStep < 0; ++k) {
        float loss;
        EpochSums ignored;
        if (!runEntry(s, k, loss, ignored))
          return false;
        const int v = firstNonFiniteVar(ctx);
        if (!std::isfinite(loss))
          what = fmt::format("the loss of '{}' is {} at step {} of epoch {}",
                             entries[k].desc->name, nonFiniteName(loss), s + 1, epoch);
        else if (v >= 0)
          what = fmt::format("'{}' made variable '{}' NaN or infinite at step {} of epoch {}, "
                             "with a finite loss",
                             entries[k].desc->name, m->vars[v].name, s + 1, epoch);
        else
          continue;
        badStep = s;
      }
    if (badStep < 0) {
      progress.clear();
      error = fmt::format("internal error: replaying the steps since the last snapshot did not "
                          "reproduce the NaN or infinity of step {} of epoch {} (steps should "
                          "be deterministic)",
                          upTo + 1, epoch);
      return false;
    }
    // Back to just before that step (all its entries: a checkpoint position
    // is a whole step), with the epoch's sums as they were then.
    restoreSnapshot(ctx, snapshot, noise);
    EpochSums sums = snapshot.sums;
    for (int64_t s = snapshot.step; s < badStep; ++s)
      for (size_t k = 0; k < entries.size(); ++k) {
        float loss;
        if (!runEntry(s, k, loss, sums))
          return false;
        sums.losses[k] += loss * weightOf(s);
      }
    if (!opts.save.empty() && !save(epoch, badStep, epochRng, sums))
      return false;
    progress.clear();
    error = fmt::format("{}; training stopped, and the variables are those from before that "
                        "step (diverged? try a lower learning rate)",
                        what);
    if (stoppedBeforeBadStep)
      *stoppedBeforeBadStep = true;
    return false;
  };

  bool warnedNonFinite = false;
  int64_t stepsThisRun = 0;
  for (int epoch = firstEpoch; epoch <= opts.epochs; ++epoch) {
    const int64_t start = epoch == firstEpoch ? firstStep : 0;
    epochRng = rng;
    for (size_t i = 0; i < shuffled.size(); ++i)
      shuffled[i] = int64_t(i);
    shuffle(shuffled, rng);
    const Clock::time_point epochStart = Clock::now();
    Clock::time_point lastDraw = epochStart;
    EpochSums sums = epoch == firstEpoch ? resumedSums : EpochSums(entries.size());
    for (int64_t step = start; step <= steps; ++step) {
      if (opts.stopOnNonFinite && (step % kSnapshotEvery == 0 || step == start || step == steps)) {
        if (step > start && firstNonFiniteVar(ctx) >= 0)
          return stopBeforeBadStep(epoch, step - 1);
        if (step < steps) {
          takeSnapshot(ctx, step, noise, snapshot);
          snapshot.sums = sums;
        }
      }
      if (step == steps)
        break;
      for (size_t k = 0; k < entries.size(); ++k) {
        float loss;
        if (!runEntry(step, k, loss, sums))
          return false;
        if (!std::isfinite(loss)) {
          if (opts.stopOnNonFinite)
            return stopBeforeBadStep(epoch, step);
          if (!warnedNonFinite) {
            progress.clear();
            out << fmt::format("warning: the loss of '{}' is {} from step {} of epoch {}; "
                               "training goes on (--no-stop-on-nan)\n",
                               entries[k].desc->name, nonFiniteName(loss), step + 1, epoch);
            warnedNonFinite = true;
          }
        }
        sums.losses[k] += loss * weightOf(step);
      }
      ++stepsThisRun;
      const int64_t done = int64_t(epoch - 1) * steps + step + 1;
      if (opts.every > 0 && !opts.save.empty() && done % opts.every == 0 &&
          !save(epoch, step + 1, epochRng, sums))
        return false;
      // Redrawing every step would cost more than a small model's step.
      const Clock::time_point now = Clock::now();
      if (opts.progress && (now - lastDraw > std::chrono::milliseconds(100) || step + 1 == steps)) {
        lastDraw = now;
        const double elapsed = secondsSince(runStart);
        const double stepsPerSecond = double(stepsThisRun) / std::max(elapsed, 1e-9);
        progress.draw(epoch, opts.epochs, step + 1, steps,
                      metricsText(entries, sums, batchesBefore(step + 1)),
                      stepsPerSecond * double(trained) / double(steps),
                      double(totalSteps - done) / stepsPerSecond);
      }
    }
    const double seconds = secondsSince(epochStart);
    progress.clear();
    EpochRecord record;
    record.epoch = epoch;
    record.seconds = seconds;
    for (double sum : sums.losses)
      record.losses.push_back(sum / std::max(batchesBefore(steps), 1e-9));
    if (sums.scored > 0) {
      record.hasTrainAccuracy = true;
      record.trainAccuracy = double(sums.correct) / double(sums.scored);
    }
    std::string tested;
    if (opts.validation) {
      EvalResult r;
      if (!evaluateModel(ctx, *opts.validation, opts, r, error))
        return false;
      curves.metric = r.metric;
      record.validated = !r.metric.empty();
      record.testMetric = r.value;
      if (r.metric == "accuracy")
        tested = fmt::format("  test accuracy {:.2f}%", 100 * r.value);
      else if (!r.metric.empty())
        tested = fmt::format("  test {} {:.6f}", r.metric, r.value);
    }
    out << fmt::format("epoch {}/{}  {}  {:.1f} s  {:.0f} samples/s{}\n", epoch, opts.epochs,
                       metricsText(entries, sums, batchesBefore(steps)), seconds,
                       double(trained) / std::max(seconds, 1e-9), tested)
        << std::flush;
    curves.epochs.push_back(record);
    if (!opts.log.empty() && !writeCurvesCsv(opts.log, curves, error))
      return false;
    if (!opts.plot.empty() && !writeCurvesSvg(opts.plot, curves, error))
      return false;
    if (!opts.samples.empty()) {
      if (!writeSamples(ctx, opts, error))
        return false;
      out << fmt::format("wrote samples to {}\n", opts.samples) << std::flush;
    }
  }
  // Finished: the position is the start of the epoch after the last, so
  // resuming with more --epochs goes on from here.
  if (!opts.save.empty() && !save(opts.epochs + 1, 0, rng, EpochSums(entries.size())))
    return false;
  return true;
}

bool evaluateModel(dlc_context *ctx, const Dataset &test, const TrainOptions &opts,
                   EvalResult &result, std::string &error) {
  const dlc_model_desc *m = dlc_model(ctx);
  if (!m) {
    error = "no model context";
    return false;
  }
  const int entry = predictEntry(m);
  if (entry < 0) {
    error = fmt::format("model '{}' has no predict entry", m->name);
    return false;
  }
  BoundEntry b;
  if (!bindEntry(m, entry, opts, test, b, error))
    return false;
  if (test.count <= 0) {
    error = "the test set is empty";
    return false;
  }
  const dlc_tensor_desc &first = b.desc->outputs[0];
  const int64_t size = first.numel / b.batch;
  result = EvalResult();
  if (first.rank == 2 && first.dims[0] == b.batch && size == opts.classes)
    result.metric = "accuracy";
  else if (b.has(Feed::Images) && size == test.exampleSize())
    result.metric = "mse";
  else
    return true; // nothing to measure against (a GAN's samples)
  NormalRng noise(opts.seed ^ 0x5A3D1E5ull);
  double sum = 0;
  bool ok = predictRows(ctx, b, test, test.count, noise, [&](int64_t i, const float *out) {
    if (result.metric == "accuracy") {
      sum += std::max_element(out, out + size) - out == test.labels[size_t(i)];
      return;
    }
    const float *image = &test.images[size_t(i * size)];
    for (int64_t k = 0; k < size; ++k)
      sum += double(out[k] - image[k]) * double(out[k] - image[k]);
  }, error);
  if (!ok)
    return false;
  result.count = test.count;
  result.value = sum / double(test.count) / double(result.metric == "mse" ? size : 1);
  return true;
}

bool predictAll(dlc_context *ctx, const Dataset &data, const TrainOptions &opts,
                std::vector<float> &values, std::vector<int64_t> &dims, std::string &error) {
  const dlc_model_desc *m = dlc_model(ctx);
  const int entry = m ? predictEntry(m) : -1;
  if (entry < 0) {
    error = m ? fmt::format("model '{}' has no predict entry", m->name) : "no model context";
    return false;
  }
  BoundEntry b;
  if (!bindEntry(m, entry, opts, data, b, error))
    return false;
  if (data.count <= 0) {
    error = "no examples to predict";
    return false;
  }
  const dlc_tensor_desc &first = b.desc->outputs[0];
  dims.assign(first.dims + (first.rank > 0 && first.dims[0] == b.batch ? 1 : 0),
              first.dims + first.rank);
  const int64_t size = first.numel / b.batch;
  values.assign(size_t(data.count * size), 0.0f);
  NormalRng noise(opts.seed ^ 0x5A3D1E5ull);
  return predictRows(ctx, b, data, data.count, noise, [&](int64_t i, const float *out) {
    std::copy(out, out + size, values.begin() + i * size);
  }, error);
}

} // namespace dlc
