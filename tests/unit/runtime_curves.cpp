// Training curves: the CSV log's columns for one and several train entries,
// with and without a test metric, and an SVG that is complete XML.
#include "runtime/host/Curves.h"
#include "tests/unit/runtime_test_support.h"

#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string readText(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("curves: the CSV log has a column per train entry and the metric when tested") {
  toy::TempDir tmp;
  dlc::Curves gan;
  gan.entries = {"d_step", "g_step"};
  gan.epochs = {{1, {0.75, 1.5}, 2.25, false, 0}, {2, {0.5, 2}, 2.5, false, 0}};
  std::string error;
  REQUIRE_MESSAGE(dlc::writeCurvesCsv(tmp.path("gan.csv"), gan, error), error);
  CHECK(readText(tmp.path("gan.csv")) == "epoch,d_step_loss,g_step_loss,seconds\n"
                                          "1,0.75,1.5,2.250\n"
                                          "2,0.5,2,2.500\n");

  dlc::Curves mlp;
  mlp.entries = {"step"};
  mlp.metric = "accuracy";
  mlp.epochs = {{1, {0.5}, 1, true, 0.8125}, {2, {0.25}, 1, true, 0.875}};
  REQUIRE_MESSAGE(dlc::writeCurvesCsv(tmp.path("mlp.csv"), mlp, error), error);
  CHECK(readText(tmp.path("mlp.csv")) == "epoch,loss,test_accuracy,seconds\n"
                                          "1,0.5,0.8125,1.000\n"
                                          "2,0.25,0.875,1.000\n");

  // Two charts when there is a test metric, one line per entry in the first;
  // a NaN loss is left out rather than breaking the drawing.
  mlp.epochs.push_back({3, {NAN}, 1, true, 0.5});
  REQUIRE_MESSAGE(dlc::writeCurvesSvg(tmp.path("mlp.svg"), mlp, error), error);
  const std::string svg = readText(tmp.path("mlp.svg"));
  CHECK(count(svg, "<polyline") == 2);
  CHECK(count(svg, ">test accuracy (%)</text>") == 1);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
  REQUIRE_MESSAGE(dlc::writeCurvesSvg(tmp.path("gan.svg"), gan, error), error);
  const std::string ganSvg = readText(tmp.path("gan.svg"));
  CHECK(count(ganSvg, "<polyline") == 2);
  CHECK(count(ganSvg, ">d_step loss</text>") == 1);

  CHECK_FALSE(dlc::writeCurvesCsv(tmp.path("no/such/dir.csv"), gan, error));
  CHECK(error.find("cannot write") != std::string::npos);
}

TEST_CASE("curves: the training accuracy is a column and a line beside the test accuracy") {
  toy::TempDir tmp;
  dlc::Curves c;
  c.entries = {"step"};
  c.metric = "accuracy";
  c.epochs = {{1, {0.5}, 1, true, 0.8125, true, 0.75}, {2, {0.25}, 1, false, 0, true, 0.875}};
  std::string error;
  REQUIRE_MESSAGE(dlc::writeCurvesCsv(tmp.path("c.csv"), c, error), error);
  CHECK(readText(tmp.path("c.csv")) == "epoch,loss,train_accuracy,test_accuracy,seconds\n"
                                        "1,0.5,0.75,0.8125,1.000\n"
                                        "2,0.25,0.875,,1.000\n");
  REQUIRE_MESSAGE(dlc::writeCurvesSvg(tmp.path("c.svg"), c, error), error);
  const std::string svg = readText(tmp.path("c.svg"));
  CHECK(count(svg, "<polyline") == 3);
  CHECK(count(svg, ">accuracy (%)</text>") == 1);
  CHECK(count(svg, ">train accuracy %</text>") == 1);
  CHECK(count(svg, ">test accuracy %</text>") == 1);

  // Without --validate: the training accuracy alone.
  c.metric = "";
  for (dlc::EpochRecord &r : c.epochs)
    r.validated = false;
  REQUIRE_MESSAGE(dlc::writeCurvesCsv(tmp.path("t.csv"), c, error), error);
  CHECK(readText(tmp.path("t.csv")) == "epoch,loss,train_accuracy,seconds\n"
                                        "1,0.5,0.75,1.000\n"
                                        "2,0.25,0.875,1.000\n");
  REQUIRE_MESSAGE(dlc::writeCurvesSvg(tmp.path("t.svg"), c, error), error);
  const std::string trainOnly = readText(tmp.path("t.svg"));
  CHECK(count(trainOnly, "<polyline") == 2);
  CHECK(count(trainOnly, ">test accuracy") == 0);
}
