// Datasets for the host-side training driver: IDX files (the MNIST format,
// gzipped or not) and in-memory image/label sets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dlc {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // unsigned bytes (type code 0x08), row-major
};

// Reads an IDX file (.gz or plain). A missing, truncated, wrong-magic or
// unsupported-type file is refused: returns false with `error` naming the
// file and what is wrong.
bool readIdx(const std::string &path, IdxArray &out, std::string &error);

// Images scaled to [0, 1] and integer labels.
struct Dataset {
  std::vector<int64_t> imageDims; // per example, e.g. {28, 28}
  std::vector<float> images;      // count * prod(imageDims)
  std::vector<int32_t> labels;    // count
  int64_t count = 0;
  int64_t exampleSize() const;
};

// Loads `<dir>/train-images-idx3-ubyte[.gz]` etc. `split` is "train" or
// "t10k". Checks that image and label counts agree.
bool loadMnistSplit(const std::string &dir, const std::string &split,
                    Dataset &out, std::string &error);

// Examples from one file, by its extension: IDX (".idx", ".ubyte" or
// anything else, gzipped or not; unsigned bytes scaled to [0, 1] as
// loadMnistSplit does), ".npy" (NumPy's own format, C order: float32,
// float64, or uint8 scaled to [0, 1]; the first dim counts examples) or
// ".csv" (one example per line, comma-separated numbers; a first line that
// is not numbers is a header). `labels` stays empty.
bool loadExamples(const std::string &path, Dataset &out, std::string &error);

// One class label per example from one file, as loadExamples reads its
// examples: IDX (unsigned bytes, rank 1), ".npy" (any type loadExamples
// takes, shape [count] or [count, 1]; uint8 labels are not scaled) or
// ".csv" (one number per line, an optional header). Every label must be a
// whole number from 0; the message names the file and the label (or line).
bool loadLabels(const std::string &path, std::vector<int32_t> &labels, std::string &error);

// Writes `count` examples of `dims` values each (`values` holds them all) as
// ".npy" (float32, shape [count, dims...]) or ".csv" (one example per line,
// shortest round-trip decimals), by the extension of `path`.
bool writeExamples(const std::string &path, const std::vector<float> &values, int64_t count,
                   const std::vector<int64_t> &dims, std::string &error);
// The CSV form writeExamples writes.
std::string examplesCsv(const std::vector<float> &values, int64_t count,
                        const std::vector<int64_t> &dims);

} // namespace dlc
