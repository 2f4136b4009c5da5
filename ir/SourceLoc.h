// Where a node came from in the user's (or the prelude's) source text.
#pragma once

#include <memory>
#include <string>

namespace dlc {

struct SourceLoc {
  std::shared_ptr<const std::string> file; // shared: thousands of nodes, few files
  int line = 0;                            // 1-based; 0 = unknown
  int col = 0;                             // 1-based

  bool known() const { return file && line > 0; }
  std::string str() const; // "examples/mnist_mlp.dl:7:10", or "" when unknown
};

} // namespace dlc
