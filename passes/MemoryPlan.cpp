// Scheduling and memory planning (passes/MemoryPlan.h).
#include "passes/MemoryPlan.h"
#include "ir/RowIndependence.h"
#include "ir/Support.h"
#include "passes/MemoryPlanner.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace dlc {

namespace {

constexpr int64_t kArenaAlignment = 64; // one cache line; codegen relies on it

// Row groups (ir/BufferIR.h RowGroup). A run of calls is grouped when the
// buffers only it uses hold at least MemoryPlanOptions::
// rowGroupMinLocalBytes at a full batch (1 MB: less stays in cache anyway);
// a chunk's rows of every buffer the group touches fit in
// rowGroupChunkBytes (512 KB, a quarter of a 2 MB L2, Sapphire Rapids';
// half of older cores' 1 MB); a call joins only if the bytes it reads that
// are not rows (weights, read again for every chunk) fit in
// kGroupMaxFixedBytes: a dense layer's 2.8 MB of weights would be read
// from memory once per chunk instead of once.
constexpr int64_t kGroupMaxFixedBytes = int64_t(256) << 10;

class Planner {
public:
  Planner(Function &f, int64_t batch, const MemoryPlanOptions &opts)
      : f_(f), p_(f.plan), batch_(batch), opts_(opts) {}

  void run() {
    for (size_t k = 0; k < p_.kernels.size(); ++k) {
      for (const Node *n : p_.kernels[k].prologue)
        kernelOf_[n] = (int)k;
      for (const Node *n : p_.kernels[k].nodes)
        kernelOf_[n] = (int)k;
    }
    for (size_t i = 0; i < f_.nodes.size(); ++i)
      index_[f_.nodes[i].get()] = i;
    for (auto &np : f_.nodes)
      for (const Node *o : np->operands)
        users_[o].push_back(np.get());
    for (Node *r : f_.roots()) {
      roots_.insert(r);
      // A root that is a view (an output reshaped) is read from the buffer
      // of the value it views, which views get only after every kernel's
      // buffers are chosen: that value's buffer holds a root too.
      for (const Node *v = r; v->info().isView(); v = v->operands[0])
        viewedByRoot_.insert(v->operands[0]);
    }
    for (auto &[var, n] : f_.updates)
      updatesOf_[n].push_back(var);
    for (auto &[name, n] : f_.outputs)
      outputsOf_[n].push_back(name);
    // Variables the copies after the last kernel read as they were: an
    // output or update that is the variable itself (or a view of it).
    for (auto *list : {&f_.outputs, &f_.updates})
      for (auto &[name, value] : *list) {
        const Node *r = viewRoot(value);
        if (r->op == OpKind::Var)
          copiedAtEnd_.insert(r->attrs.getString("name"));
      }
    schedule();
    indexReads();
    assignBuffers();
    addCopies();
    p_.planned = true; // the buffers are chosen: analyzeRows checks them
    groupRows();
    computeLiveness();
    place();
  }

private:
  Function &f_;
  Plan &p_;
  int64_t batch_; // modelBatch
  MemoryPlanOptions opts_;
  std::unordered_map<const Node *, int> kernelOf_; // members only, not hoisted
  std::unordered_map<const Node *, size_t> index_;
  std::unordered_map<const Node *, std::vector<const Node *>> users_;
  std::vector<int> stepOf_; // kernel -> step
  std::map<std::string, int> inputBuf_, stateBuf_, outputBuf_;
  std::set<std::string> stateClaimed_;
  std::unordered_set<const Node *> roots_, viewedByRoot_;
  std::unordered_map<const Node *, std::vector<std::string>> updatesOf_, outputsOf_;
  std::set<std::string> copiedAtEnd_;
  // After scheduling: what each call reads, the last call reading each
  // value and each variable, and per buffer the last call reading any value
  // it holds and whether it holds a root.
  std::vector<std::vector<const Node *>> readsOf_;
  std::unordered_map<const Node *, int> lastRead_;
  std::map<std::string, int> lastVarRead_;
  std::vector<int> bufferLastRead_;
  std::vector<bool> bufferHoldsRoot_;

  // readsOf_ is in schedule order already (schedule() sorted it).
  void indexReads() {
    for (size_t k = 0; k < p_.kernels.size(); ++k) {
      for (const Node *r : readsOf_[k]) {
        lastRead_[r] = (int)k; // calls are visited in order
        if (r->op == OpKind::Var)
          lastVarRead_[r->attrs.getString("name")] = (int)k;
      }
    }
  }

  // Records that buffer b holds value n.
  void hold(int b, const Node *n) {
    if ((size_t)b >= bufferLastRead_.size()) {
      bufferLastRead_.resize(b + 1, -1);
      bufferHoldsRoot_.resize(b + 1, false);
    }
    auto it = lastRead_.find(n);
    if (it != lastRead_.end())
      bufferLastRead_[b] = std::max(bufferLastRead_[b], it->second);
    if (isRoot(n) || viewedByRoot_.count(n))
      bufferHoldsRoot_[b] = true;
    p_.bufferOf[n] = b;
  }

  // Every node a kernel evaluates: hoisted scalars, its prologue, then its
  // own nodes.
  static std::vector<const Node *> evaluated(const Kernel &k) {
    std::vector<const Node *> v(k.hoisted.begin(), k.hoisted.end());
    v.insert(v.end(), k.prologue.begin(), k.prologue.end());
    v.insert(v.end(), k.nodes.begin(), k.nodes.end());
    return v;
  }

  // The values kernel k reads from memory (roots of views), in order.
  std::vector<const Node *> reads(const Kernel &k) const {
    std::set<const Node *> mine(k.nodes.begin(), k.nodes.end());
    mine.insert(k.hoisted.begin(), k.hoisted.end());
    mine.insert(k.prologue.begin(), k.prologue.end());
    std::vector<const Node *> out;
    for (const Node *n : evaluated(k))
      for (const Node *o : n->operands) {
        if (mine.count(o))
          continue;
        const Node *r = viewRoot(o);
        if (r->op == OpKind::Constant && r == o)
          continue; // an immediate
        if (std::find(out.begin(), out.end(), r) == out.end())
          out.push_back(r);
      }
    return out;
  }

  static std::set<std::string> varsRead(const std::vector<const Node *> &reads) {
    std::set<std::string> vars;
    for (const Node *r : reads)
      if (r->op == OpKind::Var)
        vars.insert(r->attrs.getString("name"));
    return vars;
  }

  // Variables whose update value kernel k computes.
  std::set<std::string> varsUpdated(const Kernel &k) const {
    std::set<std::string> out;
    for (const Node *n : k.nodes) {
      auto it = updatesOf_.find(n);
      if (it != updatesOf_.end())
        out.insert(it->second.begin(), it->second.end());
    }
    return out;
  }

  // Kahn's algorithm over kernel dependencies. Ties go to the kernel whose
  // first node comes first, except that a kernel updating a variable that
  // another pending kernel still reads waits while others can run.
  void schedule() {
    size_t n = p_.kernels.size();
    std::vector<std::set<int>> deps(n);
    std::vector<std::set<std::string>> reads(n), writes(n);
    readsOf_.clear();
    for (size_t k = 0; k < n; ++k) // once per kernel: the plan reuses them
      readsOf_.push_back(this->reads(p_.kernels[k]));
    for (size_t k = 0; k < n; ++k) {
      for (const Node *r : readsOf_[k]) {
        auto it = kernelOf_.find(r);
        if (it != kernelOf_.end() && it->second != (int)k)
          deps[k].insert(it->second);
      }
      reads[k] = varsRead(readsOf_[k]);
      writes[k] = varsUpdated(p_.kernels[k]);
    }
    std::vector<size_t> firstIndex(n, SIZE_MAX);
    std::vector<int> waitingOn(n, 0);
    std::vector<std::vector<int>> readers(n);
    std::map<std::string, int> pendingReaders;
    for (size_t k = 0; k < n; ++k) {
      for (const Node *m : p_.kernels[k].nodes)
        firstIndex[k] = std::min(firstIndex[k], index_.at(m));
      waitingOn[k] = (int)deps[k].size();
      for (int d : deps[k])
        readers[d].push_back((int)k);
      for (const std::string &v : reads[k])
        ++pendingReaders[v];
    }
    std::vector<int> ready, order;
    for (size_t k = 0; k < n; ++k)
      if (!waitingOn[k])
        ready.push_back((int)k);
    auto clobbers = [&](int k) {
      for (const std::string &v : writes[k])
        if (pendingReaders[v] - (int)reads[k].count(v) > 0)
          return true;
      return false;
    };
    while (!ready.empty()) {
      size_t best = 0;
      bool bestClobbers = clobbers(ready[0]);
      for (size_t i = 1; i < ready.size(); ++i) {
        bool c = clobbers(ready[i]);
        if ((bestClobbers && !c) ||
            (bestClobbers == c && firstIndex[ready[i]] < firstIndex[ready[best]])) {
          best = i;
          bestClobbers = c;
        }
      }
      int k = ready[best];
      ready.erase(ready.begin() + (long)best);
      order.push_back(k);
      for (const std::string &v : reads[k])
        --pendingReaders[v];
      for (int r : readers[k])
        if (--waitingOn[r] == 0)
          ready.push_back(r);
    }
    if (order.size() != n)
      internalError(fmt::format("memory planning: the kernels of {} depend on each other in a "
                                "cycle", f_.name));
    // Renumber the kernels in schedule order: k<i> is call i.
    std::vector<Kernel> sorted;
    std::vector<std::vector<const Node *>> sortedReads;
    for (int k : order) {
      sorted.push_back(std::move(p_.kernels[k]));
      sortedReads.push_back(std::move(readsOf_[k]));
    }
    p_.kernels = std::move(sorted);
    readsOf_ = std::move(sortedReads);
    kernelOf_.clear();
    for (size_t k = 0; k < p_.kernels.size(); ++k)
      for (const auto *list : {&p_.kernels[k].prologue, &p_.kernels[k].nodes})
        for (const Node *m : *list)
          kernelOf_[m] = (int)k;
    p_.calls.clear();
    for (size_t k = 0; k < p_.kernels.size(); ++k)
      p_.calls.push_back({(int)k, {}});
  }

  int addBuffer(Buffer b) {
    p_.buffers.push_back(std::move(b));
    return (int)p_.buffers.size() - 1;
  }

  int sourceBuffer(const Node *n) {
    const std::string &name = n->attrs.getString("name");
    bool input = n->op == OpKind::Input;
    auto &map = input ? inputBuf_ : stateBuf_;
    auto it = map.find(name);
    if (it != map.end())
      return it->second;
    int b = addBuffer({name, input ? BufferKind::Input : BufferKind::State, n->type, name});
    map[name] = b;
    return b;
  }

  bool isRoot(const Node *n) const { return roots_.count(n) != 0; }

  // Whether a value kernel k computes must reach memory: something outside
  // the kernel reads it, or it is a root. A hoisted value is stored at most
  // once, by the first kernel computing it, and only when something reads
  // it whole (a root, a view, an anchor): fusion made every kernel with an
  // elementwise reader recompute it. A value that also has a kernel of its
  // own is stored by that kernel.
  bool mustStore(const Node *n, size_t k, const std::set<const Node *> &storedHoisted) const {
    const Kernel &kern = p_.kernels[k];
    bool hoisted = std::find(kern.hoisted.begin(), kern.hoisted.end(), n) != kern.hoisted.end();
    if (hoisted && (storedHoisted.count(n) || kernelOf_.count(n)))
      return false;
    // A matmul applies its epilogue while the tile is in registers; any
    // other anchor's result is read back by its epilogue loop.
    if ((n == kern.anchor && !inRegisterEpilogue(kern)) || isRoot(n))
      return true;
    auto it = users_.find(n);
    if (it == users_.end())
      return false;
    if (hoisted)
      return readWhole(n);
    for (const Node *u : it->second)
      if (kernelOf_.count(u) == 0 || kernelOf_.at(u) != (int)k)
        return true;
    return false;
  }

  // Whether a user of n reads it other than element by element (a view, an
  // anchor): answered once per value, as a scalar hoisted into thousands of
  // kernels would otherwise rescan its thousands of users each time.
  bool readWhole(const Node *n) const {
    auto cached = readWhole_.find(n);
    if (cached != readWhole_.end())
      return cached->second;
    bool whole = false;
    auto it = users_.find(n);
    if (it != users_.end())
      for (const Node *u : it->second)
        whole |= !(u->info().isMap() || u->op == OpKind::Broadcast);
    return readWhole_[n] = whole;
  }
  mutable std::unordered_map<const Node *, bool> readWhole_;

  // Whether kernel k runs its epilogue inside the anchor's loops (a matmul,
  // on each register tile) rather than in a loop after them.
  static bool inRegisterEpilogue(const Kernel &k) {
    return k.anchor && k.anchor->info().fusion == FusionKind::Contraction;
  }

  // What the anchor still reads while the epilogue writes: for a matmul its
  // operands (the next tile needs them), which no result of the kernel may
  // overwrite; nothing when the epilogue runs after the anchor's loops.
  static std::set<const Node *> anchorReadsDuringEpilogue(const Kernel &k) {
    std::set<const Node *> out;
    if (inRegisterEpilogue(k))
      for (const Node *o : k.anchor->operands)
        out.insert(viewRoot(o));
    return out;
  }

  // The variable n is the new value of, if writing it into that variable's
  // state at step k is safe: nothing later (a kernel, or the copies at the
  // end) reads the old value.
  std::string inPlaceUpdate(const Node *n, size_t k) const {
    auto updates = updatesOf_.find(n);
    if (updates == updatesOf_.end())
      return "";
    std::set<const Node *> busy = anchorReadsDuringEpilogue(p_.kernels[k]);
    for (const std::string &var : updates->second) {
      if (stateClaimed_.count(var))
        continue;
      bool readByAnchor = false;
      for (const Node *r : busy)
        readByAnchor |= r->op == OpKind::Var && r->attrs.getString("name") == var;
      if (readByAnchor)
        continue;
      auto last = lastVarRead_.find(var);
      bool readLater = copiedAtEnd_.count(var) ||
                       (last != lastVarRead_.end() && last->second > (int)k);
      if (!readLater)
        return var;
    }
    return "";
  }

  // An arena buffer of n's type that kernel k reads for the last time and
  // that n may overwrite: every node of k is a map that allows it (element i
  // of a result reads only element i of a same-typed operand, and each
  // element's loads come before its stores), and the buffer holds no root.
  int reusableBuffer(const Node *n, size_t k, std::set<int> &taken) const {
    const Kernel &kern = p_.kernels[k];
    if (n == kern.anchor)
      return -1;
    for (const Node *m : kern.nodes) {
      if (m == kern.anchor)
        continue;
      if (!m->info().isMap())
        return -1;
      for (size_t o = 0; o < m->operands.size(); ++o)
        if (!m->info().mayOverwrite((int)o))
          return -1;
    }
    std::vector<const Node *> candidates = readsOf_[k];
    if (kern.anchor)
      candidates.insert(candidates.begin(), kern.anchor);
    std::set<const Node *> busy = anchorReadsDuringEpilogue(kern);
    for (const Node *c : candidates) {
      if (busy.count(c))
        continue;
      auto it = p_.bufferOf.find(c);
      if (it == p_.bufferOf.end() || taken.count(it->second))
        continue;
      const Buffer &b = p_.buffers[it->second];
      if (b.kind != BufferKind::Arena || b.type != n->type ||
          bufferLastRead_[it->second] > (int)k || bufferHoldsRoot_[it->second])
        continue;
      return it->second;
    }
    return -1;
  }

  void assignBuffers() {
    p_.buffers.clear();
    p_.bufferOf.clear();
    for (auto &np : f_.nodes)
      if (np->op == OpKind::Input || np->op == OpKind::Var)
        hold(sourceBuffer(np.get()), np.get());
    std::set<const Node *> storedHoisted;
    std::set<std::string> outputClaimed;
    for (size_t k = 0; k < p_.kernels.size(); ++k) {
      Kernel &kern = p_.kernels[k];
      kern.stores.clear();
      std::set<int> taken;
      for (const Node *n : evaluated(kern)) {
        if (!mustStore(n, k, storedHoisted))
          continue;
        bool hoisted = std::find(kern.hoisted.begin(), kern.hoisted.end(), n) != kern.hoisted.end();
        if (hoisted)
          storedHoisted.insert(n);
        kern.stores.push_back(const_cast<Node *>(n));
        int b = -1;
        std::string var = hoisted ? "" : inPlaceUpdate(n, k);
        if (!var.empty()) {
          b = stateBuf_.count(var) ? stateBuf_.at(var)
                                   : (stateBuf_[var] = addBuffer({var, BufferKind::State,
                                                                  n->type, var}));
          stateClaimed_.insert(var);
        }
        auto outs = outputsOf_.find(n);
        if (outs != outputsOf_.end())
          for (const std::string &name : outs->second)
            if (b < 0 && !outputClaimed.count(name)) {
              b = addBuffer({name, BufferKind::Output, n->type, name});
              outputBuf_[name] = b;
              outputClaimed.insert(name);
            }
        if (b < 0)
          b = reusableBuffer(n, k, taken);
        if (b < 0)
          b = addBuffer({n->name, BufferKind::Arena, n->type, ""});
        else if (p_.buffers[b].kind == BufferKind::Arena)
          p_.buffers[b].name += "|" + n->name; // the in-place chain, for the dump
        if (n != kern.anchor) // the epilogue may overwrite the anchor's scratch
          taken.insert(b);
        hold(b, n);
      }
    }
    // Views share their root's buffer.
    for (auto &np : f_.nodes)
      if (np->info().isView()) {
        auto it = p_.bufferOf.find(viewRoot(np.get()));
        if (it != p_.bufferOf.end())
          p_.bufferOf[np.get()] = it->second;
      }
    // Each call's arguments: the distinct buffers it reads and writes.
    for (size_t k = 0; k < p_.kernels.size(); ++k) {
      std::map<int, Access> access;
      std::vector<int> order;
      auto touch = [&](int b, Access a) {
        auto it = access.find(b);
        if (it == access.end()) {
          access[b] = a;
          order.push_back(b);
        } else if (it->second != a) {
          it->second = Access::InOut;
        }
      };
      for (const Node *r : readsOf_[k])
        touch(p_.bufferOf.at(r), Access::In);
      for (const Node *s : p_.kernels[k].stores)
        touch(p_.bufferOf.at(s), Access::Out);
      for (int b : order)
        p_.calls[k].args.push_back({b, access[b]});
    }
  }

  // Outputs and updates not produced where they belong are copied at the
  // end: first any update whose value sits in another variable's state is
  // staged (that state may be overwritten by an earlier update copy), then
  // the outputs, then the updates.
  void addCopies() {
    p_.copies.clear();
    std::vector<BufferCopy> staging, outputs, updates;
    for (auto &[name, n] : f_.outputs) {
      int from = p_.bufferOf.at(n);
      auto it = outputBuf_.find(name);
      int to = it != outputBuf_.end() ? it->second
                                      : (outputBuf_[name] = addBuffer(
                                             {name, BufferKind::Output, n->type, name}));
      if (from != to)
        outputs.push_back({from, to});
    }
    for (auto &[var, n] : f_.updates) {
      int from = p_.bufferOf.at(n);
      int to = stateBuf_.count(var) ? stateBuf_.at(var)
                                    : (stateBuf_[var] = addBuffer(
                                           {var, BufferKind::State, n->type, var}));
      if (from == to)
        continue;
      if (p_.buffers[from].kind == BufferKind::State) {
        int stage = addBuffer({n->name + ".staged", BufferKind::Arena, n->type, ""});
        staging.push_back({from, stage});
        from = stage;
      }
      updates.push_back({from, to});
    }
    for (auto *list : {&staging, &outputs, &updates})
      p_.copies.insert(p_.copies.end(), list->begin(), list->end());
  }

  // Maximal runs of calls that compute rows of a row-independent entry and
  // read few bytes besides rows, each a group if it keeps enough bytes
  // local; the chunk is as many rows as fit opts_.rowGroupChunkBytes.
  void groupRows() {
    p_.groups.clear();
    const RowAnalysis rows = analyzeRows(f_, batch_);
    if (!rows.independent)
      return;
    const std::vector<bool> rowed = rowedBuffers(f_, rows);
    auto joins = [&](size_t c) {
      if (!computesRows(p_.kernels[p_.calls[c].kernel], rows))
        return false;
      int64_t fixed = 0;
      for (const KernelArg &a : p_.calls[c].args)
        if (!rowed[a.buffer])
          fixed += p_.buffers[a.buffer].type.bytes();
      return fixed <= kGroupMaxFixedBytes;
    };
    std::unordered_set<int> copied;
    for (const BufferCopy &c : p_.copies)
      copied.insert({c.from, c.to});
    for (size_t first = 0; first < p_.calls.size();) {
      if (!joins(first)) {
        ++first;
        continue;
      }
      size_t last = first;
      while (last + 1 < p_.calls.size() && joins(last + 1))
        ++last;
      // Per buffer the group touches: whether a call outside uses it.
      std::map<int, bool> usedOutside;
      for (size_t c = first; c <= last; ++c)
        for (const KernelArg &a : p_.calls[c].args)
          usedOutside[a.buffer] = copied.count(a.buffer) > 0;
      for (size_t c = 0; c < p_.calls.size(); ++c)
        if (c < first || c > last)
          for (const KernelArg &a : p_.calls[c].args)
            if (usedOutside.count(a.buffer))
              usedOutside[a.buffer] = true;
      RowGroup g{(int)first, (int)last, 1, {}};
      int64_t rowBytes = 0, localBytes = 0;
      for (auto &[b, outside] : usedOutside) {
        if (!rowed[b])
          continue;
        const int64_t bytes = p_.buffers[b].type.bytes();
        rowBytes += bytes / batch_;
        if (!outside && p_.buffers[b].kind == BufferKind::Arena) {
          g.local.push_back(b);
          localBytes += bytes;
        }
      }
      if (last > first && !g.local.empty() && localBytes >= opts_.rowGroupMinLocalBytes) {
        g.rows = std::clamp<int64_t>(
            opts_.rowGroupChunkBytes / std::max<int64_t>(rowBytes, 1), 1, batch_);
        p_.groups.push_back(std::move(g));
      }
      first = last + 1;
    }
  }

  void computeLiveness() {
    int copyStep = (int)p_.calls.size();
    for (size_t k = 0; k < p_.calls.size(); ++k)
      for (const KernelArg &a : p_.calls[k].args) {
        Buffer &b = p_.buffers[a.buffer];
        if (b.kind != BufferKind::Arena)
          continue;
        b.first = b.first < 0 ? (int)k : std::min(b.first, (int)k);
        b.last = std::max(b.last, (int)k);
      }
    for (const BufferCopy &c : p_.copies)
      for (int id : {c.from, c.to}) {
        Buffer &b = p_.buffers[id];
        if (b.kind != BufferKind::Arena)
          continue;
        if (b.first < 0)
          b.first = copyStep;
        b.last = copyStep;
      }
    // A group's calls interleave chunk by chunk: what any of them touches
    // is live from the group's first call to its last.
    for (const RowGroup &g : p_.groups)
      for (int c = g.first; c <= g.last; ++c)
        for (const KernelArg &a : p_.calls[c].args) {
          Buffer &b = p_.buffers[a.buffer];
          if (b.kind != BufferKind::Arena)
            continue;
          b.first = std::min(b.first, g.first);
          b.last = std::max(b.last, g.last);
        }
  }

  void place() {
    std::vector<int> arena;
    std::vector<BufferInterval> intervals;
    for (size_t b = 0; b < p_.buffers.size(); ++b)
      if (p_.buffers[b].kind == BufferKind::Arena) {
        DLC_ASSERT(p_.buffers[b].first >= 0,
                   fmt::format("memory planning: b{} of {} is never used", b, f_.name));
        arena.push_back((int)b);
        intervals.push_back({p_.buffers[b].type.bytes(), p_.buffers[b].first,
                             p_.buffers[b].last});
      }
    ArenaPlacement placement = placeBuffers(intervals, kArenaAlignment);
    for (size_t i = 0; i < arena.size(); ++i)
      p_.buffers[arena[i]].offset = placement.offsets[i];
    p_.arenaBytes = placement.arenaBytes;
    p_.lowerBound = placement.lowerBound;
    p_.withoutReuse = placement.withoutReuse;
  }
};

} // namespace

bool runMemoryPlan(Module &m, const MemoryPlanOptions &opts) {
  const int64_t batch = modelBatch(m);
  for (auto &f : m.functions) {
    if (f->plan.kernels.empty() && f->plan.computeNodes == 0) {
      bool anyCompute = false;
      for (auto &n : f->nodes)
        anyCompute |= n->info().fusion != FusionKind::Source && !n->info().isView();
      DLC_ASSERT(!anyCompute, fmt::format("memory planning: {} has no kernels; run fusion first",
                                          f->name));
    }
    Planner(*f, batch, opts).run();
  }
  return !m.functions.empty();
}

} // namespace dlc
