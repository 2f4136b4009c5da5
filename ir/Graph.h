// The graph IR. A Module is one compiled model: its inputs, its persistent
// variables (trainable params and optimizer state) and one Function per entry
// point (predict, each train step). A Function is an SSA graph: every Node
// produces exactly one tensor value of a static type; nodes are kept in a
// topological order (operands always come earlier in `nodes`).
#pragma once

#include "ir/BufferIR.h"
#include "ir/Op.h"
#include "ir/SourceLoc.h"
#include "ir/Type.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>
#include <variant>
#include <vector>

namespace dlc {

class Attrs {
public:
  bool has(const std::string &k) const { return map_.count(k) != 0; }
  void set(const std::string &k, AttrValue v) { map_[k] = std::move(v); }
  int64_t getInt(const std::string &k, int64_t dflt = 0) const;
  double getFloat(const std::string &k, double dflt = 0) const;
  const std::vector<int64_t> &getInts(const std::string &k) const;
  const std::string &getString(const std::string &k) const;
  const std::map<std::string, AttrValue> &items() const { return map_; }
  bool empty() const { return map_.empty(); }
  bool operator==(const Attrs &o) const { return map_ == o.map_; }

private:
  std::map<std::string, AttrValue> map_; // sorted: printing is deterministic
};

struct Node {
  OpKind op;
  std::vector<Node *> operands;
  TensorType type;
  Attrs attrs;
  std::string name;            // unique within its Function; printed as %name
  SourceLoc loc;
  const Node *gradOf = nullptr; // autodiff: the forward node this differentiates

  const OpInfo &info() const { return opInfo(op); }
};

// How a variable is filled when a model is created.
struct Init {
  enum Kind { Zeros, Constant, Normal, Uniform };
  Kind kind = Zeros;
  double a = 0, b = 0; // Constant: a; Normal: mean a, stddev b; Uniform: [a, b)
  std::string str() const; // "zeros()", "normal(0, 0.01)"
};

struct InputDecl {
  std::string name;
  TensorType type;
  SourceLoc loc;
};

struct VarDecl {
  std::string name;   // "dense_1.w", "step.adam.m.dense_1.w"
  TensorType type;
  Init init;
  bool trainable = true; // a param (true) or optimizer state (false)
  SourceLoc loc;
};

// The optimizer table: every optimizer a train entry may name, each
// hyper-parameter with its default and the values it may take. The frontend
// and the IR parser check train statements against it, so a value that
// would make an update NaN or meaningless never reaches the optimizer pass,
// which expands each optimizer (passes/OptimizerUpdate.cpp) and takes the
// defaults from here.
struct HyperParam {
  enum Range {
    Positive,    // > 0 (lr; eps, which keeps a never-moving param off 0 / 0)
    NonNegative, // >= 0 (weight_decay)
    Fraction,    // in [0, 1): a decay rate; 1 would never forget, and
                 // Adam's bias correction 1 - beta^t would be 0
    Flag,        // 0 or 1 (nesterov), what the DSL's false and true are
  };
  std::string name; // "lr"
  double dflt;      // the value when a train statement omits it
  Range range;

  // Why `v` is not a valid value, naming the range and the value ("must be
  // at least 0 and less than 1, got 1"), or "" when it is valid.
  std::string problem(double v) const;
};

struct OptimizerInfo {
  std::string name;              // "adam"
  std::vector<HyperParam> hyper; // in positional order: "lr", "beta1", ...
  const HyperParam *find(const std::string &k) const;
  std::vector<std::string> hyperNames() const;
};
const std::vector<OptimizerInfo> &optimizers();
const OptimizerInfo *findOptimizer(const std::string &name);

// What a train entry asks for; autodiff and the optimizer pass consume it.
struct TrainSpec {
  Node *loss = nullptr;                 // scalar f32
  std::vector<std::string> params;      // variables to train, in order
  std::string optimizer;                // "sgd", "adam"
  std::vector<std::pair<std::string, double>> hyper; // as written: lr, beta1, ...
  double hyperOr(const std::string &k, double dflt) const;
  // The value of `k`: as written, else the optimizer table's default (an
  // InternalError when the table has no such hyper-parameter).
  double hyperValue(const std::string &k) const;
};

class Function {
public:
  explicit Function(std::string name) : name(std::move(name)) {}
  Function(const Function &) = delete;
  Function &operator=(const Function &) = delete;

  std::string name;
  std::vector<std::unique_ptr<Node>> nodes;            // topological order
  std::vector<std::pair<std::string, Node *>> outputs; // returned to the caller
  std::vector<std::pair<std::string, Node *>> updates; // var name <- new value
  std::vector<std::pair<std::string, Node *>> grads;   // var name -> d loss/d var
  std::optional<TrainSpec> train;                       // set for train entries
  // The buffer IR (ir/BufferIR.h): kernels from fusion, buffers and the
  // schedule from memory planning. Empty until those passes run; a pass that
  // edits the graph afterwards must clear it.
  Plan plan;

  bool isTrain() const { return train.has_value(); }

  // Appends a node (its operands must already be in this function) and makes
  // its name unique; returns it. Type and attributes are taken as given:
  // Builder is the checked way to make nodes.
  Node *append(std::unique_ptr<Node> n);
  std::string uniqueName(const std::string &base);
  Node *find(const std::string &name) const;

  // Nodes that outputs, updates, grads and the train loss depend on.
  std::vector<Node *> roots() const;
  // Removes nodes no root depends on; returns how many were removed.
  size_t removeDeadNodes();
  // Input names this function reads, in first-use order.
  std::vector<std::string> inputNames() const;
  // Replaces every use of `from` (operands and roots) by `to`.
  void replaceAllUses(Node *from, Node *to);

private:
  std::map<std::string, int> nameCount_;
  std::set<std::string> usedNames_;
};

class Module {
public:
  std::string name;
  std::vector<InputDecl> inputs;
  std::vector<VarDecl> vars;
  std::vector<std::unique_ptr<Function>> functions;

  const InputDecl *findInput(const std::string &n) const;
  const VarDecl *findVar(const std::string &n) const;
  VarDecl *findVar(const std::string &n);
  Function *findFunction(const std::string &n) const;
  Function &addFunction(const std::string &n);
  // Persistent variables' total size (the context's state block).
  int64_t varBytes() const;
};

// The node whose bytes `n` reads: n itself, or for a view (reshape) the
// first operand up the chain that is not one.
const Node *viewRoot(const Node *n);

// Every node that `roots` depend on, the roots included.
std::unordered_set<const Node *> reachableFrom(std::vector<Node *> roots);

// Deep copy of the graph (used by tests: fused vs unfused, compiled vs
// interpreted). The plan is not copied: run fusion and memory planning on
// the copy.
std::unique_ptr<Module> cloneModule(const Module &m);

} // namespace dlc
