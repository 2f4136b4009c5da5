// Training curves as CSV and SVG (Curves.h).
#include "runtime/host/Curves.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

namespace dlc {

namespace {

std::string metricColumn(const std::string &metric) { return fmt::format("test_{}", metric); }

// Writes `text` to a temp file beside `path`, then renames it over `path`:
// a reader (a browser refreshing the plot) never sees half a file.
bool replaceFile(const std::string &path, const std::string &text, std::string &error) {
  const std::string tmp = fmt::format("{}.tmp", path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << text) || !out.flush()) {
      error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot write {}: {}", path, std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `ticks` ticks
// over [lo, hi].
double tickStep(double lo, double hi, int ticks) {
  const double raw = (hi - lo) / ticks;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * p)
      return m * p;
  return 10 * p;
}

struct Series {
  std::string name, colour;
  std::vector<std::pair<double, double>> points; // (epoch, value)
};

// One chart: axes, ticks, a title and a polyline (with dots) per series.
void chart(std::string &svg, double x0, double y0, double w, double h,
           const std::string &title, const std::vector<Series> &series, int epochs) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Series &s : series)
    for (auto &[e, v] : s.points)
      if (std::isfinite(v))
        lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi))
    lo = 0, hi = 1;
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi)))
    lo -= 0.5 * std::max(std::fabs(lo), 1e-3), hi += 0.5 * std::max(std::fabs(hi), 1e-3);
  const double step = tickStep(lo, hi, 5);
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  const double left = x0 + 56, right = x0 + w - 12, top = y0 + 28, bottom = y0 + h - 36;
  auto px = [&](double e) {
    return epochs <= 1 ? (left + right) / 2 : left + (e - 1) / (epochs - 1) * (right - left);
  };
  auto py = [&](double v) { return bottom - (v - lo) / (hi - lo) * (bottom - top); };

  // Coordinates print as an ostream would (six significant digits), which
  // the plots were first written with.
  auto out = std::back_inserter(svg);
  fmt::format_to(out,
                 "<text x=\"{:.6g}\" y=\"{:.6g}\" text-anchor=\"middle\" "
                 "font-weight=\"bold\">{}</text>\n",
                 (left + right) / 2, y0 + 16, title);
  fmt::format_to(out,
                 "<rect x=\"{:.6g}\" y=\"{:.6g}\" width=\"{:.6g}\" height=\"{:.6g}\" "
                 "fill=\"none\" stroke=\"#888\"/>\n",
                 left, top, right - left, bottom - top);
  for (double v = lo; v <= hi + step / 2; v += step) {
    fmt::format_to(out,
                   "<line x1=\"{:.6g}\" y1=\"{:.6g}\" x2=\"{:.6g}\" y2=\"{:.6g}\" "
                   "stroke=\"#ddd\"/>\n",
                   left - 4, py(v), right, py(v));
    fmt::format_to(out, "<text x=\"{:.6g}\" y=\"{:.6g}\" text-anchor=\"end\">{:.4g}</text>\n",
                   left - 6, py(v) + 4, std::fabs(v) < step / 1e6 ? 0 : v);
  }
  const int every = std::max(1, (epochs + 9) / 10);
  for (int e = 1; e <= epochs; e += every)
    fmt::format_to(out, "<text x=\"{:.6g}\" y=\"{:.6g}\" text-anchor=\"middle\">{}</text>\n",
                   px(e), bottom + 16, e);
  fmt::format_to(out, "<text x=\"{:.6g}\" y=\"{:.6g}\" text-anchor=\"middle\">epoch</text>\n",
                 (left + right) / 2, bottom + 32);
  double legendY = top + 14;
  for (const Series &s : series) {
    std::string line;
    for (auto &[e, v] : s.points)
      if (std::isfinite(v)) {
        fmt::format_to(std::back_inserter(line), "{}{:.1f},{:.1f}", line.empty() ? "" : " ",
                       px(e), py(v));
        fmt::format_to(out, "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                       px(e), py(v), s.colour);
      }
    fmt::format_to(out,
                   "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
                   "points=\"{}\"/>\n",
                   s.colour, line);
    fmt::format_to(out,
                   "<text x=\"{:.6g}\" y=\"{:.6g}\" text-anchor=\"end\" fill=\"{}\">{}</text>\n",
                   right - 8, legendY, s.colour, s.name);
    legendY += 16;
  }
}

bool hasTrainAccuracy(const Curves &c) {
  for (const EpochRecord &r : c.epochs)
    if (r.hasTrainAccuracy)
      return true;
  return false;
}

} // namespace

bool writeCurvesCsv(const std::string &path, const Curves &c, std::string &error) {
  const bool trainAccuracy = hasTrainAccuracy(c);
  std::string text = "epoch";
  auto out = std::back_inserter(text);
  for (const std::string &e : c.entries)
    fmt::format_to(out, ",{}", c.entries.size() == 1 ? "loss" : fmt::format("{}_loss", e));
  if (trainAccuracy)
    text += ",train_accuracy";
  if (!c.metric.empty())
    fmt::format_to(out, ",{}", metricColumn(c.metric));
  text += ",seconds\n";
  // An empty field where an epoch has no value (no train accuracy, not
  // validated).
  auto optional = [](bool has, double v) { return has ? fmt::format("{:.6g}", v) : ""; };
  for (const EpochRecord &r : c.epochs) {
    fmt::format_to(out, "{}", r.epoch);
    for (double l : r.losses)
      fmt::format_to(out, ",{:.6g}", l);
    if (trainAccuracy)
      fmt::format_to(out, ",{}", optional(r.hasTrainAccuracy, r.trainAccuracy));
    if (!c.metric.empty())
      fmt::format_to(out, ",{}", optional(r.validated, r.testMetric));
    fmt::format_to(out, ",{:.3f}\n", r.seconds);
  }
  return replaceFile(path, text, error);
}

bool writeCurvesSvg(const std::string &path, const Curves &c, std::string &error) {
  static const char *kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  const int epochs = c.epochs.empty() ? 1 : c.epochs.back().epoch;
  std::vector<Series> losses;
  for (size_t k = 0; k < c.entries.size(); ++k) {
    Series s{c.entries.size() == 1 ? "train loss" : fmt::format("{} loss", c.entries[k]),
             kColours[k % 5], {}};
    for (const EpochRecord &r : c.epochs)
      s.points.push_back({double(r.epoch), r.losses[k]});
    losses.push_back(std::move(s));
  }
  // The accuracy chart: train (the step's own predictions) and test; a
  // test mse has a chart of its own.
  Series train{"train accuracy %", kColours[1], {}};
  for (const EpochRecord &r : c.epochs)
    if (r.hasTrainAccuracy)
      train.points.push_back({double(r.epoch), 100 * r.trainAccuracy});
  Series test{c.metric == "accuracy" ? "test accuracy %" : fmt::format("test {}", c.metric),
              kColours[2], {}};
  for (const EpochRecord &r : c.epochs)
    if (r.validated)
      test.points.push_back(
          {double(r.epoch), c.metric == "accuracy" ? 100 * r.testMetric : r.testMetric});
  std::vector<std::pair<std::string, std::vector<Series>>> charts = {{"loss", losses}};
  std::vector<Series> accuracy;
  if (!train.points.empty())
    accuracy.push_back(train);
  if (!test.points.empty() && c.metric == "accuracy")
    accuracy.push_back(test);
  if (!accuracy.empty())
    charts.push_back({train.points.empty() ? "test accuracy (%)" : "accuracy (%)", accuracy});
  if (!test.points.empty() && c.metric != "accuracy")
    charts.push_back({fmt::format("test {}", c.metric), {test}});
  const double panel = 420, height = 300, width = panel * double(charts.size());
  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.6g}\" height=\"{1:.6g}\" "
      "viewBox=\"0 0 {0:.6g} {1:.6g}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  for (size_t k = 0; k < charts.size(); ++k)
    chart(svg, panel * double(k), 0, panel, height, charts[k].first, charts[k].second, epochs);
  svg += "</svg>\n";
  return replaceFile(path, svg, error);
}

} // namespace dlc
