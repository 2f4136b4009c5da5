// `dlc bench`: times each entry through the runtime's C ABI on synthetic
// inputs (pixels in [0, 1), labels below the class count).
#include "runtime/host/Bench.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

namespace dlc {

namespace {

using Clock = std::chrono::steady_clock;

// Class count for synthetic labels: the last dim of the predict entry's first
// output, as the trainer assumes; 1 when there is none.
int64_t labelRange(const dlc_model_desc *m) {
  int e = dlc_find_entry(m, "predict");
  if (e < 0 || m->entries[e].n_outputs < 1)
    return 1;
  const dlc_tensor_desc &t = m->entries[e].outputs[0];
  return t.rank >= 1 ? std::max<int64_t>(1, t.dims[t.rank - 1]) : 1;
}

} // namespace

bool benchModel(dlc_context *ctx, const BenchOptions &opts,
                std::vector<BenchFigure> &figures, std::string &error) {
  const dlc_model_desc *m = dlc_model(ctx);
  std::mt19937_64 rng(opts.seed);
  // One buffer per model input and per entry output, filled once.
  std::vector<std::vector<uint32_t>> inputs(m->n_inputs);
  int64_t classes = labelRange(m);
  for (int i = 0; i < m->n_inputs; ++i) {
    const dlc_tensor_desc &t = m->inputs[i];
    inputs[i].resize(size_t(t.numel));
    for (uint32_t &v : inputs[i]) {
      if (t.dtype == DLC_F32) {
        float f = float(rng() >> 40) / float(1 << 24);
        std::memcpy(&v, &f, sizeof v);
      } else {
        v = uint32_t(rng() % uint64_t(classes));
      }
    }
  }
  for (int e = 0; e < m->n_entries; ++e) {
    const dlc_entry_desc &entry = m->entries[e];
    std::vector<const void *> in;
    for (int i = 0; i < entry.n_inputs; ++i)
      in.push_back(inputs[entry.inputs[i]].data());
    std::vector<std::vector<uint32_t>> outBuffers;
    std::vector<void *> out;
    for (int o = 0; o < entry.n_outputs; ++o)
      outBuffers.emplace_back(size_t(entry.outputs[o].numel));
    for (auto &b : outBuffers)
      out.push_back(b.data());

    std::vector<int64_t> rowCounts{m->batch > 0 ? m->batch : 1};
    if (!entry.is_train && m->batch > 1)
      rowCounts.push_back(1);
    std::vector<int> threadCounts = opts.threads;
    if (threadCounts.empty())
      threadCounts.push_back(dlc_threads(ctx));
    for (int64_t rows : rowCounts)
    for (int threads : threadCounts) {
      dlc_set_threads(ctx, threads);
      auto call = [&] { return dlc_run(ctx, e, in.data(), out.data(), rows); };
      // Warm up (caches, page faults) and size the rounds.
      auto start = Clock::now();
      int64_t calls = 0;
      do {
        if (call() != DLC_OK) {
          error = dlc_error(ctx);
          return false;
        }
        ++calls;
      } while (calls < 5 ||
               std::chrono::duration<double>(Clock::now() - start).count() < 0.1);
      double perCall = std::chrono::duration<double>(Clock::now() - start).count() / calls;
      int64_t perRound = std::max<int64_t>(3, int64_t(opts.secondsPerRound / perCall));
      std::vector<double> samples;
      for (int r = 0; r < std::max(1, opts.rounds); ++r) {
        auto t0 = Clock::now();
        for (int64_t k = 0; k < perRound; ++k)
          if (call() != DLC_OK) {
            error = dlc_error(ctx);
            return false;
          }
        samples.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / perRound);
      }
      std::sort(samples.begin(), samples.end());
      figures.push_back({entry.name, rows, threads, perRound, samples[samples.size() / 2],
                         samples.front(), samples.back()});
    }
  }
  return true;
}

} // namespace dlc
