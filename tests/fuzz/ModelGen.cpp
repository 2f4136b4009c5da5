// The random model generator (tests/fuzz/ModelGen.h). It tracks the shape
// of the value flowing down the trunk (without its batch dimension) and
// offers only the layers that shape admits, so every program it writes
// lowers; a model the frontend refuses is a bug here or there.
#include "tests/fuzz/ModelGen.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace dlc::fuzz {

namespace {

using Shape = std::vector<int>; // without the batch dimension

struct Value {
  std::string name;
  Shape dims;
};

int numel(const Shape &s) {
  int n = 1;
  for (int d : s)
    n *= d;
  return n;
}

class Generator {
public:
  Generator(Choices &c, const GenOptions &o) : c_(c), o_(o) {}

  GeneratedModel run() {
    int batch = c_.between(1, o_.maxBatch);
    Value h = input();
    int layers = c_.between(0, o_.maxLayers);
    for (int i = 0; i < layers; ++i)
      h = layer(h);
    if (h.dims.size() > 1)
      h = bind("flatten(" + h.name + ")", {numel(h.dims)});
    heads(h);
    std::ostringstream src;
    for (const std::string &fn : fnsUsed_)
      src << functionText(fn) << "\n";
    src << "model gen(batch = " << batch << ") {\n";
    for (const std::string &d : decls_)
      src << "  " << d << "\n";
    src << body_.str() << "}\n";
    return {src.str(), inputs_};
  }

private:
  Choices &c_;
  GenOptions o_;
  std::ostringstream body_;
  std::vector<std::string> decls_;
  std::vector<InputSpec> inputs_;
  std::set<std::string> fnsUsed_;
  int next_ = 0;
  std::vector<std::string> trunkInstances_; // named instances every head depends on
  std::vector<std::string> penalties_;      // params an L2 penalty may name

  void line(const std::string &s) { body_ << "  " << s << "\n"; }
  std::string fresh(const char *base) { return base + std::to_string(++next_); }

  Value bind(const std::string &expr, Shape dims) {
    Value v{fresh("h"), std::move(dims)};
    line(v.name + " = " + expr);
    return v;
  }

  std::string declareInput(const char *base, const char *dtype, const Shape &dims,
                           InputSpec::Kind kind, int range = 0) {
    std::string name = fresh(base), type = std::string(dtype) + "[batch";
    for (int d : dims)
      type += ", " + std::to_string(d);
    decls_.push_back("input " + name + " : " + type + "]");
    inputs_.push_back({name, kind, range});
    return name;
  }

  // `, name = "L7"` for a named instance (recorded, with its weight for
  // penalties), or nothing for an anonymous one.
  std::string instance(std::vector<std::string> *owners, const char *weight = "w") {
    if (!c_.flip())
      return "";
    std::string name = fresh("L");
    if (owners)
      owners->push_back(name);
    penalties_.push_back(name + "." + weight);
    return ", name = \"" + name + "\"";
  }

  // Mostly 1 to 8; sometimes one of `wide`, so that codegen's vector loops
  // (8 floats), 4 x 4 matmul tiles and blocked long sums run whole and with
  // remainders.
  int width(const std::vector<int> &wide) {
    return c_.below(8) == 7 ? c_.pick(wide) : c_.between(1, 8);
  }

  std::string activation() {
    static const std::vector<std::string> acts = {"none",    "relu", "tanh",
                                                  "sigmoid", "gelu", "leaky_relu"};
    return c_.pick(acts);
  }

  static std::string dimsList(const Shape &dims) {
    std::string s = "[batch";
    for (int d : dims)
      s += ", " + std::to_string(d);
    return s + "]";
  }

  static std::string pairText(int a, int b) {
    return a == b ? std::to_string(a) : "[" + std::to_string(a) + ", " + std::to_string(b) + "]";
  }

  std::string elementwise(const std::string &x) {
    static const std::vector<std::string> forms = {
        "X * 0.5 + 0.25",       "clip(X, -1, 1)",   "square(X)",
        "leaky_relu(X, 0.2)",   "maximum(X, 0.1 * X)", "where(greater(X, 0), X, 0.1 * X)",
        "X / (1 + abs(X))",     "X ** 2",           "-X",
        "1 - X",                "gelu(X)",          "twice(tanh, X)",
        "X * sigmoid(X)",       "exp(-square(X))",  "sqrt(square(X) + 1)",
        "log(1 + exp(X))",      "minimum(X, 1)",    "tanh(X) * sigmoid(X)"};
    std::string f = c_.pick(forms);
    if (f.find("twice") != std::string::npos)
      fnsUsed_.insert("twice");
    std::string out;
    for (char ch : f)
      out += ch == 'X' ? x : std::string(1, ch);
    return out;
  }

  Value input() {
    switch (c_.below(5)) {
    case 0:
    default: {
      Shape d = {width({16, 33, 520})};
      return {declareInput("x", "f32", d, InputSpec::Data), d};
    }
    case 1: {
      Shape d = {c_.between(1, 8), c_.between(1, 8), c_.between(1, 3)};
      return {declareInput("x", "f32", d, InputSpec::Data), d};
    }
    case 2: { // an image without its channel axis, as the tutorials read them
      Shape d = {c_.between(1, 8), c_.between(1, 8)};
      std::string x = declareInput("x", "f32", d, InputSpec::Data);
      return bind("reshape(" + x + ", " + dimsList({d[0], d[1], 1}) + ")", {d[0], d[1], 1});
    }
    case 3: {
      Shape d = {c_.between(1, 4), c_.between(1, 6)};
      return {declareInput("x", "f32", d, InputSpec::Data), d};
    }
    case 4: {
      int length = c_.between(1, 4), vocab = c_.between(1, 6), width = c_.between(1, 6);
      std::string ids = declareInput("ids", "i32", {length}, InputSpec::Labels, vocab);
      return bind("embedding(" + ids + ", " + std::to_string(vocab) + ", " +
                      std::to_string(width) + instance(&trunkInstances_, "table") + ")",
                  {length, width});
    }
    }
  }

  Value layer(const Value &h) {
    switch (h.dims.size()) {
    case 1:
      return vectorLayer(h);
    case 2:
      return sequenceLayer(h);
    default:
      return imageLayer(h);
    }
  }

  // [batch, D]
  Value vectorLayer(const Value &h) {
    const std::string &x = h.name;
    int d = h.dims[0];
    unsigned kind = (unsigned)c_.below(16);
    // A D -> D dense (residual, shared, unrolled, resblock) on a 520-wide
    // value would hold 270 000 weights: narrow it first.
    if (d > 64 && (kind == 4 || kind == 8 || kind == 9 || kind == 10 || kind == 12))
      kind = 0;
    switch (kind) {
    case 0:
    default: {
      int units = width({9, 16, 17, 33});
      return bind("dense(" + x + ", " + std::to_string(units) + ", " + activation() +
                      instance(&trunkInstances_) + ")",
                  {units});
    }
    case 1:
      return bind(activation() + "(" + x + ")", h.dims);
    case 2:
      return bind(elementwise(x), h.dims);
    case 3: { // layer normalisation, written out
      Value centred = bind(x + " - mean(" + x + ", -1, keepdims = true)", h.dims);
      return bind(centred.name + " / sqrt(mean(square(" + centred.name +
                      "), -1, keepdims = true) + 0.001)",
                  h.dims);
    }
    case 4:
      return bind(x + " + dense(" + x + ", " + std::to_string(d) + ", " + activation() +
                      instance(&trunkInstances_) + ")",
                  h.dims);
    case 5: {
      int units = c_.between(1, 4);
      if (d + units > 16)
        return bind(elementwise(x), h.dims);
      return bind("concat([" + x + ", dense(" + x + ", " + std::to_string(units) + ", " +
                      activation() + ")], 1)",
                  {d + units});
    }
    case 6: {
      if (d < 2)
        return bind("dropout(" + x + ", 0.5)", h.dims);
      int lo = c_.between(0, d - 2), hi = c_.between(lo + 1, d);
      return bind(x + "[:, " + std::to_string(lo) + ":" + std::to_string(hi) + "]", {hi - lo});
    }
    case 7: {
      static const std::vector<std::string> rates = {"0.1", "0.25", "0.5"};
      return bind("dropout(" + x + ", " + c_.pick(rates) + ")", h.dims);
    }
    case 8:
      fnsUsed_.insert("resblock");
      return bind("resblock(" + x + ", " + std::to_string(c_.between(1, 8)) + ")", h.dims);
    case 9: { // one instance applied twice: shared params
      std::string name = fresh("S"), act = activation();
      trunkInstances_.push_back(name);
      penalties_.push_back(name + ".w");
      Value once = bind("dense(" + x + ", " + std::to_string(d) + ", " + act + ", name = \"" +
                            name + "\")",
                        h.dims);
      return bind("dense(" + once.name + ", " + std::to_string(d) + ", " + act +
                      ", name = \"" + name + "\")",
                  h.dims);
    }
    case 10: { // unrolled: one instance per iteration
      Value v = bind(x, h.dims);
      line("for i in range(" + std::to_string(c_.between(1, 3)) + ") { " + v.name +
           " = dense(" + v.name + ", " + std::to_string(d) + ", " + activation() + ") }");
      return v;
    }
    case 11:
      return bind(std::string(c_.flip() ? "log_softmax(" : "softmax(") + x + ")", h.dims);
    case 12:
      return bind(x + " + stop_gradient(dense(" + x + ", " + std::to_string(d) + ", " +
                      activation() + "))",
                  h.dims);
    case 13:
      return bind(c_.flip() ? x + " * sigmoid(sum(" + x + ", -1, keepdims = true))"
                            : x + " - max(" + x + ", 1, keepdims = true)",
                  h.dims);
    case 14: { // [batch, a * b] -> [batch, a, b]
      std::vector<int> factors;
      for (int a = 2; a <= 8 && a < d; ++a)
        if (d % a == 0 && d / a <= 64)
          factors.push_back(a);
      if (factors.empty())
        return bind(activation() + "(" + x + ")", h.dims);
      int a = c_.pick(factors);
      return bind("reshape(" + x + ", " + dimsList({a, d / a}) + ")", {a, d / a});
    }
    case 15:
      return bind("where(" + std::string(c_.flip() ? "less(" : "greater_equal(") + x +
                      ", 0.5), " + x + ", " + elementwise(x) + ")",
                  h.dims);
    }
  }

  // [batch, T, D]
  Value sequenceLayer(const Value &h) {
    const std::string &x = h.name;
    int t = h.dims[0], d = h.dims[1];
    switch (c_.below(11)) {
    case 0:
    default:
      return bind("flatten(" + x + ")", {t * d});
    case 1: { // a recurrent cell unrolled over the steps, one shared instance
      static const std::vector<std::string> cells = {"rnn_cell", "lstm_cell", "gru_cell"};
      std::string cell = c_.pick(cells), s = fresh("s"), name = fresh("R");
      int units = c_.between(1, 6);
      trunkInstances_.push_back(name);
      penalties_.push_back(name + ".wx");
      std::string zeros = "zeros([batch, " + std::to_string(units) + "])";
      line(s + " = " + (cell == "lstm_cell" ? "[" + zeros + ", " + zeros + "]" : zeros));
      line("for t in range(" + std::to_string(t) + ") { " + s + " = " + cell + "(" + x +
           "[:, t, :], " + s + ", " + std::to_string(units) + ", name = \"" + name + "\") }");
      return bind(cell == "lstm_cell" ? s + "[0]" : s, {units});
    }
    case 2: {
      static const std::vector<std::string> reductions = {"mean", "sum", "max"};
      return bind(c_.pick(reductions) + "(" + x + ", 1)", {d});
    }
    case 3: {
      std::string step = c_.flip() ? "-1" : std::to_string(c_.between(0, t - 1));
      return bind(x + "[:, " + step + ", :]", {d});
    }
    case 4:
      return bind(elementwise(x), h.dims);
    case 5:
      return bind(c_.flip() ? "softmax(" + x + ", 1)" : activation() + "(" + x + ")", h.dims);
    case 6:
      return bind("transpose(" + x + ", [0, 2, 1])", {d, t});
    case 7:
      if (2 * t > 8)
        return bind("dropout(" + x + ", 0.25)", h.dims);
      return bind("concat([" + x + ", " + x + " * 0.5], 1)", {2 * t, d});
    case 8:
      return bind("reshape(" + x + ", " + dimsList({t, d, 1}) + ")", {t, d, 1});
    case 9:
      return bind("dropout(" + x + ", 0.25)", h.dims);
    case 10: {
      if (t < 2)
        return bind(activation() + "(" + x + ")", h.dims);
      int lo = c_.between(0, t - 2), hi = c_.between(lo + 1, t);
      return bind(x + "[:, " + std::to_string(lo) + ":" + std::to_string(hi) + ", :]",
                  {hi - lo, d});
    }
    }
  }

  // [batch, H, W, C], NHWC
  Value imageLayer(const Value &h) {
    const std::string &x = h.name;
    int height = h.dims[0], width = h.dims[1], ch = h.dims[2];
    switch (c_.below(9)) {
    case 0:
    default:
      return bind("flatten(" + x + ")", {numel(h.dims)});
    case 1: {
      bool same = c_.flip();
      int kh = c_.between(1, same ? 3 : std::min(3, height));
      int kw = c_.between(1, same ? 3 : std::min(3, width));
      int stride = c_.between(1, 2), filters = c_.between(1, 4);
      int oh = same ? (height + stride - 1) / stride : (height - kh) / stride + 1;
      int ow = same ? (width + stride - 1) / stride : (width - kw) / stride + 1;
      return bind("conv2d(" + x + ", " + std::to_string(filters) + ", " + pairText(kh, kw) +
                      (stride > 1 ? ", stride = 2" : "") +
                      (same ? ", padding = \"same\"" : "") + ", activation = " + activation() +
                      instance(&trunkInstances_) + ")",
                  {oh, ow, filters});
    }
    case 2: {
      int sh = c_.between(1, std::min(3, height)), sw = c_.between(1, std::min(3, width));
      return bind(std::string(c_.flip() ? "max_pool2d(" : "avg_pool2d(") + x + ", " +
                      pairText(sh, sw) + ")",
                  {height / sh, width / sw, ch});
    }
    case 3:
      return bind(c_.flip() ? elementwise(x) : "dropout(" + x + ", 0.1)", h.dims);
    case 4:
      return bind(std::string(c_.flip() ? "mean(" : "max(") + x + ", [1, 2])", {ch});
    case 5:
      return bind("reshape(" + x + ", " + dimsList({height * width, ch}) + ")",
                  {height * width, ch});
    case 6:
      return bind("transpose(" + x + ", [0, 2, 1, 3])", {width, height, ch});
    case 7: {
      int filters = c_.between(1, 3);
      if (ch + filters > 8)
        return bind(activation() + "(" + x + ")", h.dims);
      return bind("concat([" + x + ", conv2d(" + x + ", " + std::to_string(filters) +
                      ", 1, activation = relu)], 3)",
                  {height, width, ch + filters});
    }
    case 8: {
      if (height < 2)
        return bind(activation() + "(" + x + ")", h.dims);
      int lo = c_.between(0, height - 2), hi = c_.between(lo + 1, height);
      return bind(x + "[:, " + std::to_string(lo) + ":" + std::to_string(hi) + ", :, :]",
                  {hi - lo, width, ch});
    }
    }
  }

  std::string optimizer() {
    static const std::vector<std::string> lrs = {"0.1", "0.05", "0.01", "0.001"};
    std::string lr = "lr = " + c_.pick(lrs);
    switch (c_.below(4)) {
    case 0:
    default:
      if (!c_.flip())
        return "sgd(" + lr + ")";
      return "sgd(" + lr + ", momentum = 0.9" + (c_.flip() ? ", nesterov = true" : "") + ")";
    case 1:
      return "adam(" + lr + (c_.flip() ? ", beta1 = 0.5, beta2 = 0.99" : "") + ")";
    case 2:
      return "rmsprop(" + lr + (c_.flip() ? ", rho = 0.5" : "") + ")";
    case 3:
      return "adamw(" + lr + ", weight_decay = 0.01)";
    }
  }

  struct Head {
    std::string loss;
    std::vector<std::string> instances; // named instances the loss depends on
  };

  // One head on the trunk's [batch, D]: its layer, loss and maybe an output.
  Head head(const Value &h, int index) {
    Head out;
    out.instances = trunkInstances_;
    std::string x = h.name, n = std::to_string(index);
    auto dense = [&](int units, const std::string &act) {
      return "dense(" + x + ", " + std::to_string(units) + ", " + act +
             instance(&out.instances) + ")";
    };
    std::string result;
    switch (c_.below(4)) {
    case 0:
    default: {
      int classes = c_.between(2, 5);
      std::string y = declareInput("y", "i32", {}, InputSpec::Labels, classes);
      line("logits" + n + " = " + dense(classes, "none"));
      line("loss" + n + " = cross_entropy(logits" + n + ", " + y + ")");
      result = c_.flip() ? "softmax(logits" + n + ")" : "logits" + n;
      break;
    }
    case 1: {
      int k = c_.between(1, 4);
      std::string t = declareInput("t", "f32", {k}, InputSpec::Unit);
      line("pred" + n + " = " + dense(k, activation()));
      line("loss" + n + " = mse(pred" + n + ", " + t + ")");
      result = "pred" + n;
      break;
    }
    case 2: {
      std::string t = declareInput("t", "f32", {1}, InputSpec::Unit);
      line("logit" + n + " = " + dense(1, "none"));
      line("loss" + n + " = " +
           (c_.flip() ? "binary_cross_entropy(logit" + n + ", " + t + ", from_logits = true)"
                      : "binary_cross_entropy(sigmoid(logit" + n + "), " + t + ")"));
      result = "sigmoid(logit" + n + ")";
      break;
    }
    case 3: {
      int classes = c_.between(2, 5);
      std::string t = declareInput("t", "f32", {classes}, InputSpec::Unit);
      line("logits" + n + " = " + dense(classes, "none"));
      line("loss" + n + " = " +
           (c_.flip() ? "categorical_cross_entropy(logits" + n + ", " + t +
                            ", from_logits = true)"
                      : "categorical_cross_entropy(softmax(logits" + n + "), " + t + ")"));
      result = "softmax(logits" + n + ")";
      break;
    }
    }
    if (c_.flip())
      line("output out" + n + " = " + result);
    else
      lastResult_ = "out" + n + " = " + result;
    out.loss = "loss" + n;
    return out;
  }
  std::string lastResult_;

  std::string train(const std::string &name, std::string loss,
                    const std::vector<std::string> &instances) {
    if (!penalties_.empty() && c_.flip())
      loss += " + 0.001 * sum(square(" + c_.pick(penalties_) + "))";
    std::string params;
    if (!instances.empty() && c_.flip()) {
      std::vector<std::string> chosen;
      for (const std::string &i : instances)
        if (c_.flip())
          chosen.push_back(i);
      if (chosen.empty())
        chosen.push_back(instances.front());
      params = ", params = [";
      for (size_t i = 0; i < chosen.size(); ++i)
        params += (i ? ", " : "") + chosen[i];
      params += "]";
    }
    return "train " + name + "(" + loss + ", " + optimizer() + params + ")";
  }

  void heads(const Value &h) {
    Head first = head(h, 1);
    std::vector<std::string> trains;
    bool anyOutput = body_.str().find("output ") != std::string::npos;
    if (c_.flip()) {
      Head second = head(h, 2);
      anyOutput = body_.str().find("output ") != std::string::npos;
      if (c_.flip()) {
        std::vector<std::string> both = first.instances;
        for (const std::string &i : second.instances)
          if (std::find(both.begin(), both.end(), i) == both.end())
            both.push_back(i);
        trains.push_back(train("step", first.loss + " + " + second.loss, both));
      } else {
        trains.push_back(train("step1", first.loss, first.instances));
        trains.push_back(train("step2", second.loss, second.instances));
      }
    } else if (!anyOutput || c_.below(4) != 0) {
      trains.push_back(train("step", first.loss, first.instances));
    }
    if (trains.empty() && !anyOutput)
      line("output " + lastResult_);
    extraOutputs(h);
    for (const std::string &t : trains)
      line(t);
  }

  // Outputs that are not computed by a kernel of their own: an input, a
  // param, a constant, a view. The memory planner copies or fills them
  // after the last kernel, the cases a stack of layers never reaches.
  void extraOutputs(const Value &h) {
    int count = (int)c_.below(3);
    for (int i = 0; i < count; ++i) {
      std::string name = "extra" + std::to_string(i + 1);
      switch (c_.below(5)) {
      case 0:
      default:
        if (inputs_.front().kind == InputSpec::Labels) // i32: outputs are f32
          line("output " + name + " = full([batch, 3], -0.5)");
        else
          line("output " + name + " = " + inputs_.front().name);
        break;
      case 1:
        if (penalties_.empty())
          line("output " + name + " = ones([batch, 2]) * 3");
        else
          line("output " + name + " = " + c_.pick(penalties_));
        break;
      case 2:
        line("output " + name + " = full([batch, 3], -0.5)");
        break;
      case 3:
        line("output " + name + " = reshape(" + h.name + ", [batch, " +
             std::to_string(h.dims[0]) + ", 1])");
        break;
      case 4:
        line("output " + name + " = " + h.name);
        break;
      }
    }
  }

  static std::string functionText(const std::string &name) {
    if (name == "twice")
      return "fn twice(f, x) {\n  return f(f(x))\n}\n";
    // A residual block: its own dense instances, named block_N.dense_K.
    return "fn resblock(x, units, act = relu) {\n"
           "  h = dense(x, units, act)\n"
           "  return x + dense(h, dim(x, -1))\n"
           "}\n";
  }
};

} // namespace

GeneratedModel generateModel(Choices &c, const GenOptions &opts) {
  return Generator(c, opts).run();
}

TensorMap generatedInputs(const Module &m, const GeneratedModel &g, uint64_t seed) {
  std::mt19937_64 rng(seed);
  TensorMap out;
  for (const InputDecl &in : m.inputs) {
    InputSpec spec{in.name, InputSpec::Data, 0};
    for (const InputSpec &s : g.inputs)
      if (s.name == in.name)
        spec = s;
    Tensor t = Tensor::zeros(in.type);
    for (double &v : t.data) {
      uint32_t r = (uint32_t)(rng() >> 40); // 24 bits: exact in a float
      double unit = r / double(1 << 24);
      v = spec.kind == InputSpec::Labels ? double(r % (uint32_t)std::max(spec.range, 1))
          : spec.kind == InputSpec::Unit ? unit
                                         : 2 * unit - 1;
    }
    out[in.name] = std::move(t);
  }
  return out;
}

} // namespace dlc::fuzz
