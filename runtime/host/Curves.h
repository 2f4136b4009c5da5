// Training curves: what each epoch measured, written as a CSV log
// (`dlc train --log`) and drawn as a small self-contained SVG (`--plot`),
// so a run's progress can be read without any plotting tool.
#pragma once

#include <string>
#include <vector>

namespace dlc {

struct EpochRecord {
  int epoch = 0;
  std::vector<double> losses; // mean loss of each train entry, in run order
  double seconds = 0;
  bool validated = false;     // testMetric holds this epoch's test figure
  double testMetric = 0;
  // The fraction of the epoch's training examples whose class scores, from
  // the train step's own forward pass, picked their label.
  bool hasTrainAccuracy = false;
  double trainAccuracy = 0;
};

struct Curves {
  std::vector<std::string> entries; // train entry names, as in EpochRecord::losses
  std::string metric;               // "accuracy", "mse" or "" (no test figure)
  std::vector<EpochRecord> epochs;
};

// epoch,loss[,train_accuracy][,test_accuracy|test_mse],seconds — one loss
// column per train entry ("d_step_loss,g_step_loss") when there are several,
// train_accuracy when some epoch measured it. The whole file is rewritten
// each time, so it always ends with the last epoch.
bool writeCurvesCsv(const std::string &path, const Curves &c, std::string &error);

// Loss per epoch (one line per train entry), and beside it the accuracy per
// epoch, train and test, when measured (or the test mse). Plain SVG 1.1: no
// script, no external file.
bool writeCurvesSvg(const std::string &path, const Curves &c, std::string &error);

} // namespace dlc
