// Operator fusion: the grouping rules of passes/Fusion.h, in one place.
#include "passes/Fusion.h"
#include "ir/Support.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace dlc {

namespace {

bool isSourceOrView(const Node *n) {
  return n->info().fusion == FusionKind::Source || n->info().isView();
}

// Maps and broadcasts are computed per element of a kernel's loop.
bool isElementwise(const Node *n) {
  return n->info().isMap() || n->op == OpKind::Broadcast;
}

// A scalar map whose inputs are constants and scalar inputs or variables:
// cheap enough to recompute at the entry of every kernel that needs it.
bool isUniform(const Node *n, const std::unordered_set<const Node *> &uniform) {
  if (!n->info().isMap() || n->type.numel() != 1 || n->type.dtype != DType::F32)
    return false;
  for (const Node *o : n->operands) {
    bool scalarSource = o->info().fusion == FusionKind::Source && o->type.numel() == 1;
    if (!scalarSource && !uniform.count(o))
      return false;
  }
  return true;
}

class Fuser {
public:
  Fuser(Function &f, bool fuse) : f_(f), fuse_(fuse) {}

  void run() {
    for (Node *r : f_.roots())
      roots_.insert(r);
    for (size_t i = 0; i < f_.nodes.size(); ++i)
      index_[f_.nodes[i].get()] = i;
    for (auto &np : f_.nodes)
      for (Node *o : np->operands)
        users_[o].push_back(np.get());
    if (fuse_)
      for (auto &np : f_.nodes)
        if (isUniform(np.get(), uniform_))
          uniform_.insert(np.get());
    for (auto &np : f_.nodes)
      place(np.get());
    if (fuse_)
      hoistUniforms();
    Plan &p = f_.plan;
    p = Plan();
    p.fused = fuse_;
    for (auto &np : f_.nodes)
      p.computeNodes += !isSourceOrView(np.get());
    const auto &index = index_;
    for (Group &g : groups_)
      if (!g.merged) {
        // Merged groups interleave: back to graph order, anchor first.
        std::stable_sort(g.kernel.nodes.begin(), g.kernel.nodes.end(),
                         [&](const Node *a, const Node *b) {
                           if ((a == g.kernel.anchor) != (b == g.kernel.anchor))
                             return a == g.kernel.anchor;
                           return index.at(a) < index.at(b);
                         });
        std::stable_sort(g.kernel.prologue.begin(), g.kernel.prologue.end(),
                         [&](const Node *a, const Node *b) { return index.at(a) < index.at(b); });
        p.kernels.push_back(std::move(g.kernel));
      }
  }

private:
  struct Group {
    Kernel kernel;
    TensorType domain;     // the shape its elementwise loop runs over
    std::set<int> reads;   // groups whose results it reads
    std::set<int> readBy;  // groups that read its results
    // Longer than any chain of reads below it: a group can only depend on
    // groups of a lower level, which bounds the cycle search.
    int level = 0;
    bool merged = false;   // emptied into another group
  };

  Function &f_;
  bool fuse_;
  std::vector<Group> groups_;
  std::unordered_map<const Node *, int> groupOf_;
  std::unordered_set<const Node *> uniform_, roots_;
  std::unordered_map<const Node *, std::vector<Node *>> users_;
  std::unordered_map<const Node *, size_t> index_;

  // Whether group `from` reads, directly or through other groups, group
  // `to`. Groups at or below `to`'s level cannot reach it, so the search
  // stays among the few groups between the two.
  bool dependsOn(int from, int to) const {
    if (groups_[to].readBy.empty())
      return false; // nothing reads `to`, so nothing can depend on it
    std::vector<int> stack{from};
    ++epoch_;
    while (!stack.empty()) {
      int g = stack.back();
      stack.pop_back();
      if (g == to)
        return true;
      if (groups_[g].level <= groups_[to].level || visited_[g] == epoch_)
        continue;
      visited_[g] = epoch_;
      stack.insert(stack.end(), groups_[g].reads.begin(), groups_[g].reads.end());
    }
    return false;
  }
  mutable std::vector<int> visited_; // epoch stamps, one per group
  mutable int epoch_ = 0;

  // Records that group g reads group r, keeping levels consistent.
  void addRead(int g, int r) {
    if (g == r || !groups_[g].reads.insert(r).second)
      return;
    groups_[r].readBy.insert(g);
    std::vector<std::pair<int, int>> raise{{g, groups_[r].level + 1}};
    while (!raise.empty()) {
      auto [h, level] = raise.back();
      raise.pop_back();
      if (groups_[h].level >= level)
        continue;
      groups_[h].level = level;
      for (int q : groups_[h].readBy)
        raise.push_back({q, level + 1});
    }
  }

  int newGroup(Node *n, Node *anchor) {
    Group g;
    g.kernel.anchor = anchor;
    g.kernel.nodes.push_back(n);
    g.domain = n->type;
    groups_.push_back(std::move(g));
    visited_.push_back(0);
    int id = (int)groups_.size() - 1;
    addReads(id, n);
    groupOf_[n] = id;
    return id;
  }

  // Records the groups whose results n reads, looking through views.
  void addReads(int g, const Node *n) {
    for (const Node *o : n->operands) {
      auto it = groupOf_.find(viewRoot(o));
      if (it != groupOf_.end())
        addRead(g, it->second);
    }
  }

  // Does a constant need bytes of its own? Kernels read constants as
  // immediates, but a view cannot, and the caller or the state must get one.
  bool needsFill(const Node *n) const {
    if (roots_.count(n))
      return true;
    auto it = users_.find(n);
    if (it != users_.end())
      for (const Node *u : it->second)
        if (u->info().isView())
          return true;
    return false;
  }

  // Why n may not join group g, or "" when it may.
  std::string refusal(const Node *n, int g) const {
    const Group &grp = groups_[g];
    if (grp.kernel.nodes.size() >= kMaxKernelNodes)
      return fmt::format("the kernel already has {} nodes", kMaxKernelNodes);
    if (n->type.dims != grp.domain.dims)
      return fmt::format("its shape {} differs from the kernel's {} (fusing would recompute or "
                         "scatter elements)", n->type.str(), grp.domain.str());
    if (n->op == OpKind::Broadcast && groupOf_.count(n->operands[0]) &&
        groupOf_.at(n->operands[0]) == g)
      return "it broadcasts a value of this kernel, which the loop computes only "
             "at its own elements";
    for (const Node *o : n->operands) {
      o = viewRoot(o); // a reshape reads its root's kernel, as addReads knows
      auto it = groupOf_.find(o);
      if (it == groupOf_.end() || it->second == g)
        continue;
      if (dependsOn(it->second, g))
        return fmt::format("it also reads %{}, which is computed from this kernel's results: "
                           "merging would make a cycle", o->name);
    }
    return "";
  }

  void place(Node *n) {
    if (isSourceOrView(n)) {
      if (n->op == OpKind::Constant && needsFill(n))
        newGroup(n, nullptr);
      return;
    }
    if (uniform_.count(n))
      return; // hoisted into the kernels that use it (hoistUniforms)
    if (!fuse_ || !isElementwise(n)) {
      if (fuse_ && adoptAsPrologue(n))
        return;
      newGroup(n, isElementwise(n) ? nullptr : n);
      return;
    }
    // Join the kernel of an operand, one with an anchor first (an epilogue
    // saves a pass over memory); then pull the operands' other map-only
    // kernels of the same shape in with it (the two arms of a diamond, or an
    // optimizer's arithmetic on a variable joining its gradient's kernel).
    std::vector<int> candidates;
    for (const Node *o : n->operands) {
      auto it = groupOf_.find(o);
      if (it != groupOf_.end() &&
          std::find(candidates.begin(), candidates.end(), it->second) == candidates.end())
        candidates.push_back(it->second);
    }
    std::stable_sort(candidates.begin(), candidates.end(), [&](int a, int b) {
      return groups_[a].kernel.anchor && !groups_[b].kernel.anchor;
    });
    int joined = -1;
    for (int g : candidates) {
      std::string why = refusal(n, g);
      if (why.empty()) {
        joined = g;
        break;
      }
      groups_[g].kernel.refused.push_back(fmt::format("%{}: {}", n->name, why));
    }
    if (joined < 0) {
      newGroup(n, nullptr);
      return;
    }
    for (int g : candidates)
      if (g != joined) {
        std::string why = mergeRefusal(g, joined);
        if (why.empty())
          merge(g, joined);
        else
          groups_[joined].kernel.refused.push_back(fmt::format("merging {}: {}", describe(g), why));
      }
    groups_[joined].kernel.nodes.push_back(n);
    groupOf_[n] = joined;
    addReads(joined, n);
  }

  // A reduction or row-wise op reads its operand element by element, so the
  // map-only kernel that computes the operand (and nothing else) can run
  // inside its loops instead of storing it: that kernel becomes n's, its
  // nodes n's prologue. Returns whether n was placed so.
  bool adoptAsPrologue(Node *n) {
    FusionKind kind = n->info().fusion;
    if (kind != FusionKind::Reduction && kind != FusionKind::RowWise)
      return false;
    std::vector<std::string> refused;
    for (const Node *o : n->operands) {
      auto it = groupOf_.find(o);
      if (it == groupOf_.end())
        continue;
      int g = it->second;
      std::string why = prologueRefusal(n, o, g);
      if (!why.empty()) {
        refused.push_back(fmt::format("%{} as a prologue: {}", o->name, why));
        continue;
      }
      Group &grp = groups_[g];
      grp.kernel.prologue = std::move(grp.kernel.nodes);
      grp.kernel.nodes = {n};
      grp.kernel.anchor = n;
      grp.domain = n->type;
      groupOf_[n] = g;
      addReads(g, n);
      grp.kernel.refused.insert(grp.kernel.refused.end(), refused.begin(), refused.end());
      return true;
    }
    if (!refused.empty()) {
      int g = newGroup(n, n);
      groups_[g].kernel.refused = std::move(refused);
      return true;
    }
    return false;
  }

  // Why group g may not become n's prologue (computing n's operand o), or "".
  std::string prologueRefusal(const Node *n, const Node *o, int g) const {
    const Group &grp = groups_[g];
    if (grp.kernel.anchor)
      return fmt::format("its kernel has its own {}", opName(grp.kernel.anchor->op));
    if (grp.domain.dims != o->type.dims || o->type.dtype != DType::F32)
      return fmt::format("its kernel computes {}, not the operand's {}", grp.domain.str(),
                         o->type.str());
    std::set<const Node *> mine(grp.kernel.nodes.begin(), grp.kernel.nodes.end());
    for (const Node *m : grp.kernel.nodes) {
      if (roots_.count(m))
        return fmt::format("%{} is a result of the entry", m->name);
      if (m->op == OpKind::Broadcast)
        return "it broadcasts, which the op's flat reads cannot follow";
      auto users = users_.find(m);
      if (users != users_.end())
        for (const Node *u : users->second)
          if (u != n && !mine.count(u))
            return fmt::format("%{} is also read by %{}", m->name, u->name);
      for (const Node *x : m->operands)
        if (!mine.count(x) && !uniform_.count(x) && x->op != OpKind::Constant &&
            x->type.numel() != 1 && x->type.dims != o->type.dims)
          return fmt::format("it reads %{} broadcast from {}", x->name, x->type.str());
    }
    if (grp.kernel.nodes.size() >= kMaxKernelNodes)
      return fmt::format("the kernel already has {} nodes", kMaxKernelNodes);
    return "";
  }

  std::string describe(int g) const {
    return fmt::format("the kernel of %{}", groups_[g].kernel.nodes[0]->name);
  }

  // Why map-only group `from` may not be merged into group `into`, or "".
  std::string mergeRefusal(int from, int into) const {
    const Group &a = groups_[from], &b = groups_[into];
    if (a.merged)
      return "it was merged already";
    if (a.kernel.anchor)
      return fmt::format("it has its own {} (never computed twice)", opName(a.kernel.anchor->op));
    if (a.domain.dims != b.domain.dims)
      return fmt::format("its shape {} differs from {}", a.domain.str(), b.domain.str());
    if (a.kernel.nodes.size() + b.kernel.nodes.size() >= kMaxKernelNodes)
      return fmt::format("together they would pass {} nodes", kMaxKernelNodes);
    // Merged nodes run in the epilogue, after the anchor's loops (and the
    // prologue inside them): those cannot read what the epilogue computes.
    for (const auto *list : {&b.kernel.prologue, &b.kernel.nodes})
      for (const Node *n : *list) {
        if (list == &b.kernel.nodes && n != b.kernel.anchor)
          continue;
        for (const Node *o : n->operands) {
          auto it = groupOf_.find(viewRoot(o));
          if (it != groupOf_.end() && it->second == from)
            return fmt::format("this kernel's {} reads %{}, which the epilogue would compute "
                               "after it", opName(n->op), o->name);
        }
      }
    for (int r : a.reads)
      if (r != into && dependsOn(r, into))
        return fmt::format("it reads {}, which depends on this kernel", describe(r));
    for (int r : b.reads)
      if (r != from && dependsOn(r, from))
        return fmt::format("this kernel reads {}, which depends on it", describe(r));
    return "";
  }

  void merge(int from, int into) {
    Group &a = groups_[from], &b = groups_[into];
    for (Node *n : a.kernel.nodes) {
      b.kernel.nodes.push_back(n);
      groupOf_[n] = into;
    }
    b.kernel.refused.insert(b.kernel.refused.end(), a.kernel.refused.begin(),
                            a.kernel.refused.end());
    std::set<int> reads = std::move(a.reads), readBy = std::move(a.readBy);
    a.reads.clear();
    a.readBy.clear();
    for (int r : reads) {
      groups_[r].readBy.erase(from);
      addRead(into, r);
    }
    for (int q : readBy) {
      groups_[q].reads.erase(from);
      addRead(q, into);
    }
    a.kernel = Kernel();
    a.merged = true;
  }

  // Whether something other than elementwise code reads u: a root, or a
  // user that is neither uniform nor a map or broadcast.
  bool readAsWhole(const Node *u) const {
    if (roots_.count(u))
      return true;
    auto it = users_.find(u);
    if (it != users_.end())
      for (const Node *user : it->second)
        if (!uniform_.count(user) && !isElementwise(user))
          return true;
    return false;
  }

  // Whether every kernel that would store uniform value u (those that
  // hoist it) runs after a kernel that reads it whole: an anchor of group r
  // reading u while a hoisting group depends on r. The stored copy would
  // come too late (a reduce_sum of a [1, 1] value, the value also scaling
  // the reduce's own consumer: found by the model fuzz target), so u gets a
  // kernel of its own, which the reader follows.
  bool storedTooLate(const Node *u, const std::vector<int> &hoisting) const {
    auto it = users_.find(u);
    if (it == users_.end())
      return false;
    for (const Node *reader : it->second) {
      if (uniform_.count(reader) || isElementwise(reader))
        continue;
      auto r = groupOf_.find(reader);
      if (r == groupOf_.end())
        continue;
      for (int h : hoisting)
        if (h != r->second && dependsOn(h, r->second))
          return true;
    }
    return false;
  }

  // Every kernel recomputes the uniform values its nodes read. A uniform
  // value that something else needs in memory (a root, a view, an anchor
  // reading it as an operand) is stored by the first kernel that computes
  // it, or by a kernel of its own when none does.
  void hoistUniforms() {
    std::unordered_set<const Node *> hoistedSomewhere;
    std::unordered_map<const Node *, std::vector<int>> hoistedIn; // by group
    for (Group &g : groups_) {
      std::set<const Node *> need;
      std::function<void(const Node *)> pull = [&](const Node *u) {
        if (!uniform_.count(u) || !need.insert(u).second)
          return;
        for (const Node *o : u->operands)
          pull(o);
      };
      for (const auto *list : {&g.kernel.prologue, &g.kernel.nodes})
        for (const Node *n : *list)
          if (isElementwise(n))
            for (const Node *o : n->operands)
              pull(o);
      std::vector<const Node *> order(need.begin(), need.end());
      std::sort(order.begin(), order.end(), [&](const Node *a, const Node *b) {
        return index_.at(a) < index_.at(b); // graph order: operands come first
      });
      for (const Node *u : order) {
        g.kernel.hoisted.push_back(const_cast<Node *>(u));
        hoistedSomewhere.insert(u);
        hoistedIn[u].push_back(int(&g - groups_.data()));
      }
    }
    for (auto &np : f_.nodes) {
      Node *u = np.get();
      if (!uniform_.count(u) || !readAsWhole(u))
        continue;
      if (hoistedSomewhere.count(u) && !storedTooLate(u, hoistedIn[u]))
        continue;
      // No loop recomputes it, yet it is read as a whole (by an anchor, a
      // view or the caller): a kernel of its own stores it.
      int g = newGroup(u, nullptr);
      std::function<void(const Node *)> pull = [&](const Node *v) {
        for (const Node *o : v->operands)
          if (uniform_.count(o)) {
            pull(o);
            auto &h = groups_[g].kernel.hoisted;
            if (std::find(h.begin(), h.end(), o) == h.end())
              h.push_back(const_cast<Node *>(o));
          }
      };
      pull(u);
      hoistedSomewhere.insert(u);
    }
  }
};

bool fuseModule(Module &m, bool fuse) {
  for (auto &f : m.functions)
    Fuser(*f, fuse).run();
  return !m.functions.empty();
}

} // namespace

bool runFusion(Module &m) { return fuseModule(m, true); }
bool runNoFusion(Module &m) { return fuseModule(m, false); }

} // namespace dlc
