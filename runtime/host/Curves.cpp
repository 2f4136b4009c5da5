// Training curves as CSV and SVG (Curves.h).
#include "runtime/host/Curves.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dlc {

namespace {

std::string metricColumn(const std::string &metric) { return "test_" + metric; }

// Writes `text` to a temp file beside `path`, then renames it over `path`:
// a reader (a browser refreshing the plot) never sees half a file.
bool replaceFile(const std::string &path, const std::string &text, std::string &error) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << text) || !out.flush()) {
      error = "cannot write " + path + ": " + std::strerror(errno);
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::string number(double v, const char *format = "%.6g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
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
void chart(std::ostringstream &svg, double x0, double y0, double w, double h,
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

  svg << "<text x=\"" << (left + right) / 2 << "\" y=\"" << y0 + 16
      << "\" text-anchor=\"middle\" font-weight=\"bold\">" << title << "</text>\n";
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << right - left
      << "\" height=\"" << bottom - top << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (double v = lo; v <= hi + step / 2; v += step) {
    svg << "<line x1=\"" << left - 4 << "\" y1=\"" << py(v) << "\" x2=\"" << right
        << "\" y2=\"" << py(v) << "\" stroke=\"#ddd\"/>\n";
    svg << "<text x=\"" << left - 6 << "\" y=\"" << py(v) + 4
        << "\" text-anchor=\"end\">" << number(std::fabs(v) < step / 1e6 ? 0 : v, "%.4g")
        << "</text>\n";
  }
  const int every = std::max(1, (epochs + 9) / 10);
  for (int e = 1; e <= epochs; e += every)
    svg << "<text x=\"" << px(e) << "\" y=\"" << bottom + 16 << "\" text-anchor=\"middle\">"
        << e << "</text>\n";
  svg << "<text x=\"" << (left + right) / 2 << "\" y=\"" << bottom + 32
      << "\" text-anchor=\"middle\">epoch</text>\n";
  double legendY = top + 14;
  for (const Series &s : series) {
    std::string line;
    for (auto &[e, v] : s.points)
      if (std::isfinite(v)) {
        line += (line.empty() ? "" : " ") + number(px(e), "%.1f") + "," + number(py(v), "%.1f");
        svg << "<circle cx=\"" << number(px(e), "%.1f") << "\" cy=\"" << number(py(v), "%.1f")
            << "\" r=\"3\" fill=\"" << s.colour << "\"/>\n";
      }
    svg << "<polyline fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"2\" points=\""
        << line << "\"/>\n";
    svg << "<text x=\"" << right - 8 << "\" y=\"" << legendY << "\" text-anchor=\"end\" fill=\""
        << s.colour << "\">" << s.name << "</text>\n";
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
  for (const std::string &e : c.entries)
    text += "," + (c.entries.size() == 1 ? std::string("loss") : e + "_loss");
  if (trainAccuracy)
    text += ",train_accuracy";
  if (!c.metric.empty())
    text += "," + metricColumn(c.metric);
  text += ",seconds\n";
  for (const EpochRecord &r : c.epochs) {
    text += std::to_string(r.epoch);
    for (double l : r.losses)
      text += "," + number(l);
    if (trainAccuracy)
      text += "," + (r.hasTrainAccuracy ? number(r.trainAccuracy) : std::string());
    if (!c.metric.empty())
      text += "," + (r.validated ? number(r.testMetric) : std::string());
    text += "," + number(r.seconds, "%.3f") + "\n";
  }
  return replaceFile(path, text, error);
}

bool writeCurvesSvg(const std::string &path, const Curves &c, std::string &error) {
  static const char *kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
  const int epochs = c.epochs.empty() ? 1 : c.epochs.back().epoch;
  std::vector<Series> losses;
  for (size_t k = 0; k < c.entries.size(); ++k) {
    Series s{c.entries.size() == 1 ? "train loss" : c.entries[k] + " loss",
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
  Series test{c.metric == "accuracy" ? "test accuracy %" : "test " + c.metric, kColours[2], {}};
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
    charts.push_back({"test " + c.metric, {test}});
  const double panel = 420, height = 300, width = panel * double(charts.size());
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\""
      << height << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t k = 0; k < charts.size(); ++k)
    chart(svg, panel * double(k), 0, panel, height, charts[k].first, charts[k].second, epochs);
  svg << "</svg>\n";
  return replaceFile(path, svg.str(), error);
}

} // namespace dlc
